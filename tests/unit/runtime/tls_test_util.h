// Test helpers for https: self-signed certificates made with the openssl CLI at test time, and
// curl / openssl s_client run as real clients (each bounded by a timeout).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace kstreams::runtime::testing_tls {

struct TestCert {
  std::string cert;  // PEM certificate (self-signed: also its own CA file)
  std::string key;   // PEM private key
};

// A fresh directory under the test temp dir.
inline std::string temp_dir(const std::string& name) {
  static std::atomic<int> counter{0};
  const std::string dir = ::testing::TempDir() + "/kstreams_tls_" + std::to_string(::getpid()) + "_" +
                          std::to_string(counter++) + "_" + name;
  ::mkdir(dir.c_str(), 0700);
  return dir;
}

// A self-signed ECDSA P-256 certificate for `san` (e.g. "IP:127.0.0.1,DNS:localhost"), valid for 2 days.
inline TestCert make_cert(const std::string& name, const std::string& san = "IP:127.0.0.1,DNS:localhost") {
  const std::string dir = temp_dir(name);
  TestCert c{dir + "/cert.pem", dir + "/key.pem"};
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=" + name +
      " -addext subjectAltName=" + san + " -keyout " + c.key + " -out " + c.cert + " >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return c;
}

// Runs a shell command and returns its standard output.
inline std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

// curl (bounded by --max-time 5) printing "<body> <status>"; the status is 000 when no HTTP answer came
// (connection refused or closed, TLS verification failed).
inline std::string curl(const std::string& args) {
  return run("curl -s --max-time 5 -o - -w ' %{http_code}' " + args + " 2>/dev/null");
}

}  // namespace kstreams::runtime::testing_tls
