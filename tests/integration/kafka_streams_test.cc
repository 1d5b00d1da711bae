// The runtime on a real broker: exactly-once under SIGKILL and across broker outages, at-least-once
// after a crash, scale-out over several instances. The application under test is
// tests/integration/apps/counter_app.cc, run as a separate process; outputs are read with
// read_committed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "kstreams/runtime/clients.h"
#include "kstreams/runtime/http.h"
#include "kstreams/runtime/kafka_streams.h"
#include "support/broker_env.h"
#include "support/child_process.h"
#include "support/raw_connection.h"

namespace kstreams {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::client_props;
using testing::create_topic;
using testing::unique_name;

constexpr int kGroups = 40;

class CounterAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_id_ = unique_name("counter");
    input_ = app_id_ + "-in";
    ids_ = app_id_ + "-ids";
    counts_ = app_id_ + "-counts";
    create_topic(input_, 3);
    create_topic(ids_, 3);
    create_topic(counts_, 3);
    dir_ = std::filesystem::temp_directory_path() / app_id_;
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (producer_thread_.joinable()) producer_thread_.join();
    instances_.clear();
    if (!HasFailure() && std::getenv("KSTREAMS_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(dir_);
  }

  std::string log_path(int instance) const {
    return (dir_ / ("instance-" + std::to_string(instance) + ".log")).string();
  }

  std::unique_ptr<ChildProcess> start_instance(int instance, const std::string& guarantee,
                                               const std::string& server = "",
                                               const std::vector<std::string>& extra = {},
                                               const std::vector<std::string>& args = {}) {
    std::vector<std::string> argv = {KSTREAMS_COUNTER_APP,
                                     "--input",
                                     input_,
                                     "--ids-out",
                                     ids_,
                                     "--counts-out",
                                     counts_,
                                     "--set",
                                     "application.id=" + app_id_,
                                     "--set",
                                     "bootstrap.servers=" + testing::bootstrap(),
                                     "--set",
                                     "processing.guarantee=" + guarantee,
                                     "--set",
                                     "state.dir=" + (dir_ / ("state-" + std::to_string(instance))).string(),
                                     "--set",
                                     "session.timeout.ms=6000",
                                     "--set",
                                     "transaction.timeout.ms=5000",
                                     "--set",
                                     "commit.interval.ms=100"};
    for (const auto& setting : extra) {
      argv.push_back("--set");
      argv.push_back(setting);
    }
    if (!server.empty()) {
      argv.push_back("--set");
      argv.push_back("application.server=" + server);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<ChildProcess>(argv, log_path(instance));
  }

  // Produces `n` records (id i-<n>, group g-<n % kGroups>) at about `rate` per second, in the background.
  // `extra`: producer settings on top of the idempotent defaults.
  void produce_async(int n, int rate, const runtime::Properties& extra = {}) {
    runtime::Properties props = client_props({{"enable.idempotence", "true"}, {"linger.ms", "2"}});
    for (const auto& [k, v] : extra) props[k] = v;
    producer_thread_ = std::thread([this, n, rate, props] {
      auto producer = runtime::ProducerClient::create(props);
      ASSERT_TRUE(producer.ok()) << producer.status();
      const auto start = std::chrono::steady_clock::now();
      const int64_t base_ts =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      for (int i = 0; i < n; ++i) {
        RawRecord r;
        r.topic = input_;
        r.partition = Partition(-1);
        r.key = "i-" + std::to_string(i);
        r.value = "g-" + std::to_string(i % kGroups);
        r.timestamp = base_ts + i;
        absl::Status st;
        while ((st = (*producer)->send(r)).code() == absl::StatusCode::kUnavailable) (*producer)->poll(5ms);
        ASSERT_TRUE(st.ok()) << st;
        if (rate > 0 && i % 100 == 0) {
          std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(i) * 1000000 / rate));
        }
      }
      ASSERT_TRUE((*producer)->flush(30s).ok());
      produced_ = n;
    });
  }

  // Produces `n` records now (id i-<k>, group g-<k % kGroups>, the wall clock as timestamp) and
  // waits for them; `tweak` may change record k first.
  void produce_now(int n, const std::function<void(int, RawRecord&)>& tweak) {
    auto producer = runtime::ProducerClient::create(client_props({{"enable.idempotence", "true"}}));
    ASSERT_TRUE(producer.ok());
    for (int i = 0; i < n; ++i) {
      RawRecord r;
      r.topic = input_;
      r.partition = Partition(-1);
      r.key = "i-" + std::to_string(i);
      r.value = "g-" + std::to_string(i % kGroups);
      r.timestamp =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      tweak(i, r);
      ASSERT_TRUE((*producer)->send(r).ok());
    }
    ASSERT_TRUE((*producer)->flush(30s).ok());
  }

  // Writes `n` table rows (key <key_prefix><k>, value label-<k>) to `topic`, timestamped before any
  // record.
  void preload_labels(const std::string& topic, int n, const std::string& key_prefix = "i-") {
    auto producer = runtime::ProducerClient::create(client_props({{"enable.idempotence", "true"}, {"linger.ms", "5"}}));
    ASSERT_TRUE(producer.ok());
    for (int i = 0; i < n; ++i) {
      RawRecord r;
      r.topic = topic;
      r.partition = Partition(-1);
      r.key = key_prefix + std::to_string(i);
      r.value = "label-" + std::to_string(i);
      r.timestamp = 1;  // older than every stream record
      absl::Status st;
      while ((st = (*producer)->send(r)).code() == absl::StatusCode::kUnavailable) (*producer)->poll(5ms);
      ASSERT_TRUE(st.ok()) << st;
    }
    ASSERT_TRUE((*producer)->flush(30s).ok());
  }

  // Every one of the `n` input records found its table row: one "<group>|label-<k>" per id on `joined`.
  void expect_every_record_joined(const std::string& joined, int n) {
    auto read = runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {joined}, 60s);
    ASSERT_TRUE(read.ok()) << read.status();
    std::set<std::string> keys;
    int wrong = 0;
    for (const auto& r : *read) {
      keys.insert(*r.key);
      const std::string k = r.key->substr(2);
      if (*r.value != "g-" + std::to_string(std::stoi(k) % kGroups) + "|label-" + k) ++wrong;
    }
    EXPECT_EQ(static_cast<int>(keys.size()), n)
        << "stream records that found no table row: " << n - static_cast<int>(keys.size()) << "\n"
        << logs(1);
    EXPECT_EQ(static_cast<int>(read->size()), n);
    EXPECT_EQ(wrong, 0);
  }

  // Waits until `ids` holds at least `n` committed records (or the timeout).
  std::vector<RawRecord> wait_for_ids(int n, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<RawRecord> out;
    while (std::chrono::steady_clock::now() < deadline) {
      auto read = runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {ids_}, 60s);
      if (read.ok()) {
        out = std::move(*read);
        if (static_cast<int>(out.size()) >= n) break;
      }
      std::this_thread::sleep_for(1s);
    }
    return out;
  }

  struct CountCheck {
    int keys = 0;
    int exact_sequences = 0;  // groups whose updates are exactly 1..n
    int final_correct = 0;    // groups whose last update equals the true count
    std::string first_problem;
  };

  CountCheck check_counts(int n) {
    CountCheck c;
    auto read = runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {counts_}, 60s);
    EXPECT_TRUE(read.ok()) << read.status();
    if (!read.ok()) return c;
    std::map<std::string, std::vector<int64_t>> updates;
    for (const auto& r : *read) updates[*r.key].push_back(std::stoll(*r.value));
    c.keys = static_cast<int>(updates.size());
    for (const auto& [group, values] : updates) {
      const int g = std::stoi(group.substr(2));
      const int64_t expected = n / kGroups + (g < n % kGroups ? 1 : 0);
      bool exact = static_cast<int64_t>(values.size()) == expected;
      for (size_t i = 0; exact && i < values.size(); ++i) exact = values[i] == static_cast<int64_t>(i + 1);
      c.exact_sequences += exact ? 1 : 0;
      c.final_correct += values.back() == expected ? 1 : 0;
      if (!exact && c.first_problem.empty()) {
        c.first_problem = group + ": " + std::to_string(values.size()) + " updates, last " +
                          std::to_string(values.back()) + ", expected 1.." + std::to_string(expected);
      }
    }
    return c;
  }

  // Waits until every group's count updates are exactly 1..n over the committed outputs.
  CountCheck wait_for_counts(int n, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    CountCheck c = check_counts(n);
    while (c.exact_sequences < kGroups && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1s);
      c = check_counts(n);
    }
    return c;
  }

  // Every one of the `n` ids read with read_committed exactly once, and every group's count
  // updates exactly 1..n/kGroups: no duplicate and no gap.
  void expect_exactly_once(const std::vector<RawRecord>& ids, int n) {
    std::set<std::string> unique;
    int duplicates = 0;
    for (const auto& r : ids) duplicates += unique.insert(*r.key).second ? 0 : 1;
    EXPECT_EQ(duplicates, 0);
    EXPECT_EQ(static_cast<int>(unique.size()), n) << logs(1);
    const CountCheck counts = check_counts(n);
    EXPECT_EQ(counts.keys, kGroups);
    EXPECT_EQ(counts.exact_sequences, kGroups) << counts.first_problem;
    EXPECT_EQ(counts.final_correct, kGroups);
  }

  std::string logs(int instances) const {
    std::string out;
    for (int i = 0; i < instances; ++i)
      out += "--- instance " + std::to_string(i) + "\n" + testing::tail_file(log_path(i), 30);
    return out;
  }

  std::string app_id_, input_, ids_, counts_;
  std::filesystem::path dir_;
  std::thread producer_thread_;
  std::atomic<int> produced_{0};
  std::vector<std::unique_ptr<ChildProcess>> instances_;
};

TEST_F(CounterAppTest, ExactlyOnceOutputsHaveNoDuplicatesOrGapsAcrossRepeatedSigkills) {
  constexpr int kRecords = 12000;
  produce_async(kRecords, 1500);
  auto app = start_instance(0, "exactly_once_v2");
  for (int kill = 0; kill < 3; ++kill) {
    std::this_thread::sleep_for(2500ms);
    ASSERT_TRUE(app->running()) << logs(1);
    app->kill_hard();
    app = start_instance(0, "exactly_once_v2");
  }
  producer_thread_.join();
  auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  expect_exactly_once(ids, kRecords);
}

// Emit-on-close windows are final results: a window closed before a SIGKILL must not come out again
// from the restarted instance, nor from the survivor that takes its tasks over while it is down
// (stream time and emit progress travel with the committed offsets), and none may be lost.
TEST_F(CounterAppTest, ClosedWindowsComeOutExactlyOnceAcrossSigkillsAndTaskMoves) {
  constexpr int kRecords = 9000;
  const std::string closed = app_id_ + "-closed";
  create_topic(closed, 3);
  produce_async(kRecords, 1500);  // event time base + i ms: 9 s of 1 s windows
  const std::vector<std::string> args = {"--closed-windows-out", closed};
  instances_.push_back(start_instance(0, "exactly_once_v2", "", {}, args));
  instances_.push_back(start_instance(1, "exactly_once_v2", "", {}, args));
  for (int kill = 0; kill < 3; ++kill) {
    std::this_thread::sleep_for(2500ms);
    const int victim = kill % 2;
    ASSERT_TRUE(instances_[victim]->running()) << logs(2);
    instances_[victim]->kill_hard();
    std::this_thread::sleep_for(1500ms);  // the survivor takes the victim's tasks over meanwhile
    instances_[victim] = start_instance(victim, "exactly_once_v2", "", {}, args);
  }
  producer_thread_.join();
  {
    // One record far ahead in event time per partition closes every window of the run.
    auto producer = runtime::ProducerClient::create(client_props({{"enable.idempotence", "true"}}));
    ASSERT_TRUE(producer.ok()) << producer.status();
    const int64_t far =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count() +
        3600 * 1000;
    for (int p = 0; p < 3; ++p) {
      RawRecord r;
      r.topic = input_;
      r.partition = Partition(p);
      r.key = "close-" + std::to_string(p);
      r.value = "g-close";
      r.timestamp = far;
      ASSERT_TRUE((*producer)->send(r).ok());
    }
    ASSERT_TRUE((*producer)->flush(30s).ok());
  }
  std::vector<RawRecord> results;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto read = runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {closed}, 60s);
    if (read.ok() && static_cast<int>(read->size()) >= kRecords) break;
    std::this_thread::sleep_for(1s);
  }
  std::this_thread::sleep_for(3s);  // anything emitted twice would be committed by now
  auto read = runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {closed}, 60s);
  ASSERT_TRUE(read.ok()) << read.status();
  for (auto& p : instances_) EXPECT_EQ(p->terminate(30s), 0) << logs(2);
  std::map<std::string, int> emitted;
  int wrong_counts = 0;
  for (const auto& r : *read) {
    ++emitted[*r.key];
    wrong_counts += *r.value == "1" ? 0 : 1;
  }
  int duplicated = 0;
  for (const auto& [window, n] : emitted) duplicated += n > 1 ? 1 : 0;
  EXPECT_EQ(duplicated, 0) << "windows emitted more than once\n" << logs(2);
  EXPECT_EQ(static_cast<int>(emitted.size()), kRecords) << logs(2);
  EXPECT_EQ(wrong_counts, 0);
}

// A changelog deleted and recreated while an instance's state directory stayed: the stores'
// checkpoints point past the new changelog's end. The local state is not the changelog's any more,
// so the task wipes it and restores from the changelog (here: empty) instead of mixing both.
TEST_F(CounterAppTest, AStoreCheckpointPastItsChangelogsEndWipesTheTaskAndRestoresFromTheChangelog) {
  constexpr int kFirst = 2000;
  constexpr int kSecond = 400;
  produce_async(kFirst, 0);
  producer_thread_.join();
  auto app = start_instance(0, "exactly_once_v2");
  CountCheck c = wait_for_counts(kFirst, 90s);
  ASSERT_EQ(c.exact_sequences, kGroups) << c.first_problem << logs(1);
  ASSERT_EQ(app->terminate(30s), 0) << logs(1);
  const std::string changelog = app_id_ + "-group-counts-changelog";
  {
    auto admin = runtime::AdminClient::create(client_props());
    ASSERT_TRUE(admin.ok()) << admin.status();
    ASSERT_TRUE((*admin)->delete_topics({changelog}, 30s).ok());
    // Deletion is asynchronous: wait until the topic is gone before the instance recreates it.
    for (int i = 0; i < 60; ++i) {
      auto counts = (*admin)->partition_counts({changelog}, 10s);
      if (counts.ok() && counts->count(changelog) == 0) break;
      std::this_thread::sleep_for(500ms);
    }
  }
  std::this_thread::sleep_for(2s);
  produce_async(kSecond, 0);  // ids i-0 .. i-399 again: 10 more per group
  producer_thread_.join();
  app = start_instance(0, "exactly_once_v2");
  // Each group's state restarts from the empty changelog: its updates after the restart are 1..10.
  std::map<std::string, std::vector<int64_t>> after;
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < deadline) {
    after.clear();
    auto read = runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {counts_}, 60s);
    ASSERT_TRUE(read.ok()) << read.status();
    std::map<std::string, int> seen;
    for (const auto& r : *read) {
      if (seen[*r.key]++ >= kFirst / kGroups) after[*r.key].push_back(std::stoll(*r.value));
    }
    size_t complete = 0;
    for (const auto& [g, v] : after) complete += v.size() >= kSecond / kGroups ? 1 : 0;
    if (complete == kGroups) break;
    std::this_thread::sleep_for(1s);
  }
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  ASSERT_EQ(after.size(), static_cast<size_t>(kGroups)) << logs(1);
  std::vector<int64_t> fresh;
  for (int64_t i = 1; i <= kSecond / kGroups; ++i) fresh.push_back(i);
  for (const auto& [g, v] : after) EXPECT_EQ(v, fresh) << g << "\n" << logs(1);
  EXPECT_NE(testing::tail_file(log_path(0), 400).find("past the end"), std::string::npos) << logs(1);
}

// commit.pipelined: the stream thread processes into the next transaction while the last one
// commits. Checks the two failure paths of that overlap under load; each must abort both
// transactions (deferred output, sealed and pending store writes), rewind, and stay exact.
class PipelinedCommitFailureTest : public CounterAppTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(PipelinedCommitFailureTest, IsAbortedWithWhatFollowedItAndTheOutputStaysExact) {
  constexpr int kRecords = 8000;
  produce_async(kRecords, 2000);
  // Let 10 hits pass, then fail 3 times in a row (the retries after the rewind fail too).
  auto app = start_instance(0, "exactly_once_v2", "", {"commit.pipelined=true"},
                            {"--fault", std::string(GetParam()) + ":10:3"});
  producer_thread_.join();
  auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  const std::string log = testing::tail_file(log_path(0), 2000);
  const std::regex aborted("aborting the transaction: .*injected fault at " + std::string(GetParam()));
  EXPECT_EQ(std::distance(std::sregex_iterator(log.begin(), log.end(), aborted), std::sregex_iterator()), 3) << log;
  expect_exactly_once(ids, kRecords);
}

INSTANTIATE_TEST_SUITE_P(FailurePaths, PipelinedCommitFailureTest,
                         ::testing::Values("runtime.pipelined_commit.before_end",  // the commit in flight fails
                                           "runtime.process.during_commit"),       // processing fails meanwhile
                         [](const auto& info) {
                           return std::string(info.index == 0 ? "TheCommitInFlight" : "ProcessingDuringTheCommit");
                         });

// The stores cannot apply a transaction that committed in Kafka (their atomic write fails). With
// commit.pipelined the next transaction is already sealed and flushing by then. Neither may be
// applied over the hole: the thread closes its tasks dirty, rejoins, and restores them from their
// changelogs (each store's content and changelog position were written together), and the counts
// stay exact.
TEST_F(CounterAppTest, AStoreThatCannotApplyACommittedTransactionIsRestoredAndTheOutputStaysExact) {
  constexpr int kRecords = 8000;
  produce_async(kRecords, 2000);
  auto app = start_instance(0, "exactly_once_v2", "", {"commit.pipelined=true"},
                            {"--fault", "state.commit.before_write:40:2"});
  producer_thread_.join();
  auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  const std::string log = testing::tail_file(log_path(0), 2000);
  const std::regex diverged(
      "could not apply a committed transaction to its stores: .*injected fault at "
      "state.commit.before_write");
  EXPECT_EQ(std::distance(std::sregex_iterator(log.begin(), log.end(), diverged), std::sregex_iterator()), 2) << log;
  EXPECT_NE(log.find("closing tasks dirty and rejoining"), std::string::npos) << log;
  expect_exactly_once(ids, kRecords);
}

// A broker that goes away: it crashes (SIGKILL, no controlled shutdown) under load and comes back
// on its data some seconds later. The instance rides it out without a restart: its transaction is
// aborted (by its own delivery timeout or by the coordinator after the restart, which fences the
// producer), the stream thread rewinds or rejoins with new clients, and the output read with
// read_committed has no duplicates and no gaps. The test runs a broker of its own
// (scripts/kafka/broker.sh on free ports), so the other tests keep theirs.
class BrokerOutageFixture : public CounterAppTest {
 protected:
  void SetUp() override {
    broker_dir_ = std::filesystem::temp_directory_path() / unique_name("outage-broker");
    std::filesystem::create_directories(broker_dir_);
    for (int attempt = 0; attempt < 50 && port_ == 0; ++attempt) {
      const int p = testing::free_tcp_port();
      if (p < 65535 && port_free(p + 1)) port_ = p;  // broker.sh: client port P, controller P + 1
    }
    ASSERT_NE(port_, 0) << "no two free consecutive ports";
    ASSERT_EQ(broker("start"), 0) << testing::tail_file(broker_log(), 40);
    address_ = std::make_unique<testing::ScopedBootstrap>("127.0.0.1:" + std::to_string(port_));
    CounterAppTest::SetUp();
  }
  void TearDown() override {
    CounterAppTest::TearDown();
    address_.reset();
    if (port_ != 0) (void)broker("stop");
    if (!HasFailure()) std::filesystem::remove_all(broker_dir_);
  }

  static bool port_free(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    return ok;
  }
  std::string broker_log() const { return (broker_dir_ / "broker.sh.log").string(); }
  // scripts/kafka/broker.sh VERB for this test's broker; its exit code.
  int broker(const std::string& verb) {
    const std::string cmd = "KAFKA_PORT=" + std::to_string(port_) + " KAFKA_RUN_DIR='" +
                            (broker_dir_ / "kafka").string() + "' bash '" + KSTREAMS_BROKER_SCRIPT + "' " + verb +
                            " >> '" + broker_log() + "' 2>&1";
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  int port_ = 0;
  std::filesystem::path broker_dir_;
  std::unique_ptr<testing::ScopedBootstrap> address_;
};

// The two ways a broker goes away: it crashes and is restarted on its data (connections refused,
// then log recovery), or it hangs (connections stay open and nothing answers until it resumes).
struct Outage {
  const char* name;
  const char* away;  // broker.sh verbs
  const char* back;
  int seconds = 12;        // how long the broker stays away
  bool soak_only = false;  // too long for `make test`: runs under `make soak` (KSTREAMS_SOAK=1)
};

class BrokerOutageTest : public BrokerOutageFixture, public ::testing::WithParamInterface<Outage> {};

TEST_P(BrokerOutageTest, ExactlyOnceInstanceRidesItOutAndItsOutputStaysExact) {
  if (GetParam().soak_only && std::getenv("KSTREAMS_SOAK") == nullptr) {
    GTEST_SKIP() << "a " << GetParam().seconds << " s outage runs under `make soak` (KSTREAMS_SOAK=1)";
  }
  // The broker goes away early and load goes on for ~50 s after it is back (at 200 records/s).
  const int kRecords = std::max(12000, 200 * (GetParam().seconds + 50));
  // The load producer waits out the outage too (its records stay queued and are retried).
  const std::string wait_out = std::to_string((GetParam().seconds + 180) * 1000);
  produce_async(kRecords, 200, {{"message.timeout.ms", wait_out}});
  auto app = start_instance(0, "exactly_once_v2");
  // (Not wait_for_ids: reading to the end waits for the open transactions of a busy instance.)
  std::this_thread::sleep_for(6s);
  ASSERT_TRUE(app->running()) << logs(1);
  ASSERT_EQ(broker(GetParam().away), 0) << testing::tail_file(broker_log(), 20);
  const auto away = std::chrono::steady_clock::now();
  // Past the session (6 s) and transaction (5 s) timeouts; the long ones past every client timeout
  // (30 s commits, 60 s init_transactions, 300 s max.poll.interval.ms).
  std::this_thread::sleep_for(std::chrono::seconds(GetParam().seconds));
  EXPECT_TRUE(app->running()) << "the instance exited while the broker was away\n" << logs(1);
  ASSERT_EQ(broker(GetParam().back), 0) << testing::tail_file(broker_log(), 40);
  std::printf("broker away for %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - away).count());
  EXPECT_EQ(produced_.load(), 0) << "the load ended before the broker came back: the test checks nothing after it";
  producer_thread_.join();
  auto ids = wait_for_ids(kRecords, 180s);
  EXPECT_TRUE(app->running()) << "the instance did not survive the outage\n" << logs(1);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  expect_exactly_once(ids, kRecords);
}

INSTANTIATE_TEST_SUITE_P(Outages, BrokerOutageTest,
                         ::testing::Values(Outage{"CrashAndRestart", "crash", "revive"},
                                           Outage{"HangAndResume", "freeze", "thaw"},
                                           Outage{"Hang150s", "freeze", "thaw", 150},
                                           Outage{"Stopped10min", "crash", "revive", 600, true}),
                         [](const auto& info) { return std::string(info.param.name); });

// SIGTERM while the broker hangs: the instance is gone within shutdown.timeout.ms (plus the
// process's own teardown), not after the sum of every client timeout; and the output is still
// exact after a restart once the broker is back.
TEST_F(BrokerOutageFixture, SigtermWithTheBrokerHangingEndsWithinTheShutdownTimeout) {
  constexpr int kRecords = 3000;
  produce_async(kRecords, 300, {{"message.timeout.ms", "180000"}});
  const std::vector<std::string> settings = {"shutdown.timeout.ms=8000"};
  auto app = start_instance(0, "exactly_once_v2", "", settings);
  std::this_thread::sleep_for(6s);
  ASSERT_TRUE(app->running()) << logs(1);
  ASSERT_EQ(broker("freeze"), 0) << testing::tail_file(broker_log(), 20);
  std::this_thread::sleep_for(2s);
  const auto start = std::chrono::steady_clock::now();
  const int rc = app->terminate(60s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("SIGTERM with the broker frozen: exited after %.1f s (code %d)\n", secs, rc);
  EXPECT_NE(rc, -1) << "had to be killed\n" << logs(1);
  EXPECT_LE(secs, 8.0 + 4.0) << logs(1);
  ASSERT_EQ(broker("thaw"), 0) << testing::tail_file(broker_log(), 40);
  app = start_instance(0, "exactly_once_v2", "", settings);
  producer_thread_.join();
  auto ids = wait_for_ids(kRecords, 180s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  expect_exactly_once(ids, kRecords);
}

// commit.pipelined.max.buffered.bytes: a commit in flight may hold only so much output in memory;
// past it the thread stops processing until the commit returns. With a tiny bound every pipelined
// commit engages it, and the output must stay exact.
TEST_F(CounterAppTest, ACommitInFlightHoldsBoundedOutputAndTheOutputStaysExact) {
  constexpr int kRecords = 6000;
  const std::string server = "127.0.0.1:" + std::to_string(testing::free_tcp_port());
  produce_async(kRecords, 2000);
  auto app = start_instance(0, "exactly_once_v2", server, {"commit.pipelined.max.buffered.bytes=200"});
  producer_thread_.join();
  auto ids = wait_for_ids(kRecords, 120s);
  auto client = runtime::http::HttpClient::create("http://" + server);
  ASSERT_TRUE(client.ok()) << client.status();
  auto metrics = (*client)->get("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const std::regex waited(R"(kstreams_thread_commit_backpressure_total\{[^}]*\} ([0-9.e+]+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics->body, m, waited)) << metrics->body.substr(0, 2000);
  EXPECT_GT(std::stod(m[1].str()), 0) << "the bound never engaged";
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  expect_exactly_once(ids, kRecords);
}

// The synchronous commit (Kafka Streams' behaviour) stays exact across a SIGKILL as well.
TEST_F(CounterAppTest, ExactlyOnceWithoutPipelinedCommitsSurvivesASigkill) {
  constexpr int kRecords = 6000;
  produce_async(kRecords, 2000);
  auto app = start_instance(0, "exactly_once_v2", "", {"commit.pipelined=false"});
  std::this_thread::sleep_for(2000ms);
  ASSERT_TRUE(app->running()) << logs(1);
  app->kill_hard();
  app = start_instance(0, "exactly_once_v2", "", {"commit.pipelined=false"});
  producer_thread_.join();
  auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  expect_exactly_once(ids, kRecords);
}

TEST_F(CounterAppTest, AtLeastOnceAfterACrashHasNoGaps) {
  constexpr int kRecords = 8000;
  produce_async(kRecords, 2000);
  auto app = start_instance(0, "at_least_once");
  std::this_thread::sleep_for(2000ms);
  app->kill_hard();
  app = start_instance(0, "at_least_once");
  producer_thread_.join();
  auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  std::set<std::string> unique;
  int duplicates = 0;
  for (const auto& r : ids) duplicates += unique.insert(*r.key).second ? 0 : 1;
  EXPECT_EQ(static_cast<int>(unique.size()), kRecords) << "gaps under at_least_once\n" << logs(1);
  RecordProperty("duplicates_after_crash", duplicates);
  std::printf("at_least_once: %d duplicates after one SIGKILL (allowed)\n", duplicates);
}

TEST_F(CounterAppTest, ThreeInstancesShareTheWorkAndSurviveOneBeingKilled) {
  constexpr int kRecords = 9000;
  produce_async(kRecords, 1500);
  for (int i = 0; i < 3; ++i) instances_.push_back(start_instance(i, "exactly_once_v2"));
  std::this_thread::sleep_for(3000ms);
  instances_[1]->kill_hard();  // the others take over its tasks and restore its state
  std::this_thread::sleep_for(2000ms);
  instances_[1] = start_instance(1, "exactly_once_v2");  // and it comes back
  producer_thread_.join();
  auto ids = wait_for_ids(kRecords, 120s);
  for (auto& inst : instances_) EXPECT_EQ(inst->terminate(30s), 0) << logs(3);
  std::set<std::string> unique;
  for (const auto& r : ids) unique.insert(*r.key);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRecords)) << logs(3);
  EXPECT_EQ(static_cast<int>(unique.size()), kRecords);
  const CountCheck counts = check_counts(kRecords);
  EXPECT_EQ(counts.exact_sequences, kGroups) << counts.first_problem << "\n" << logs(3);
}

// One instance and three instances of the same stateful topology (a windowed count and a
// stream-table join, both behind repartition topics) read the same input: their outputs agree.
TEST_F(CounterAppTest, ThreeInstancesGiveTheSameWindowedCountsAndJoinResultsAsOne) {
  constexpr int kRecords = 6000;
  const std::string table = app_id_ + "-labels";
  create_topic(table, 3);
  preload_labels(table, kGroups, "g-");
  produce_async(kRecords, 0);
  producer_thread_.join();
  auto run = [&](const std::string& variant, int instances) {
    const std::string app = app_id_ + "-" + variant;
    for (const char* out : {"-ids", "-counts", "-joined", "-windowed"}) create_topic(app + out, 3);
    std::vector<std::unique_ptr<ChildProcess>> procs;
    for (int i = 0; i < instances; ++i) {
      std::vector<std::string> argv = {KSTREAMS_COUNTER_APP,
                                       "--input",
                                       input_,
                                       "--ids-out",
                                       app + "-ids",
                                       "--counts-out",
                                       app + "-counts",
                                       "--table",
                                       table,
                                       "--joined-out",
                                       app + "-joined",
                                       "--windowed-out",
                                       app + "-windowed",
                                       "--set",
                                       "application.id=" + app,
                                       "--set",
                                       "bootstrap.servers=" + testing::bootstrap(),
                                       "--set",
                                       "processing.guarantee=exactly_once_v2",
                                       "--set",
                                       "state.dir=" + (dir_ / (variant + std::to_string(i))).string(),
                                       "--set",
                                       "session.timeout.ms=6000",
                                       "--set",
                                       "transaction.timeout.ms=5000"};
      procs.push_back(std::make_unique<ChildProcess>(argv, log_path(i)));
    }
    std::vector<RawRecord> joined;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto read = runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {app + "-joined"}, 60s);
      if (read.ok() && static_cast<int>(read->size()) >= kRecords) {
        joined = std::move(*read);
        break;
      }
      std::this_thread::sleep_for(1s);
    }
    std::this_thread::sleep_for(2s);  // the windowed counts commit with the same cadence
    auto windowed = runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {app + "-windowed"}, 60s);
    for (auto& p : procs) EXPECT_EQ(p->terminate(30s), 0) << logs(instances);
    std::multiset<std::string> join_results;
    for (const auto& r : joined) join_results.insert(*r.value);
    std::map<std::string, int64_t> final_counts;
    if (windowed.ok()) {
      for (const auto& r : *windowed) final_counts[*r.key] = std::stoll(*r.value);
    }
    return std::make_pair(join_results, final_counts);
  };
  const auto one = run("one", 1);
  const auto three = run("three", 3);
  EXPECT_EQ(one.first.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(one.first, three.first);
  int64_t total = 0;
  for (const auto& [window, n] : one.second) total += n;
  EXPECT_EQ(total, kRecords);
  EXPECT_EQ(one.second, three.second);
  EXPECT_EQ(*one.first.begin(), "g-0=label-0");
}

// max.task.idle.ms (default 0): a table preloaded before the start and a stream backlog behind it.
// The join task must not process the stream partition before the table partition's records, which
// are on the broker (known lag) but not fetched yet: every stream record finds its table row.
TEST_F(CounterAppTest, PreloadedTableIsReadBeforeTheStreamBacklogSoEveryRecordJoins) {
  constexpr int kRecords = 3000;
  const std::string table = app_id_ + "-id-labels";
  const std::string joined = app_id_ + "-id-joined";
  create_topic(table, 3);
  create_topic(joined, 3);
  preload_labels(table, kRecords);
  produce_async(kRecords, 0);
  producer_thread_.join();
  std::vector<std::string> argv = {KSTREAMS_COUNTER_APP,
                                   "--input",
                                   input_,
                                   "--ids-out",
                                   ids_,
                                   "--counts-out",
                                   counts_,
                                   "--id-table",
                                   table,
                                   "--id-joined-out",
                                   joined,
                                   "--set",
                                   "application.id=" + app_id_,
                                   "--set",
                                   "bootstrap.servers=" + testing::bootstrap(),
                                   "--set",
                                   "processing.guarantee=exactly_once_v2",
                                   "--set",
                                   "state.dir=" + (dir_ / "state-0").string(),
                                   "--set",
                                   "commit.interval.ms=100"};
  if (const char* idle = std::getenv("KSTREAMS_TEST_MAX_TASK_IDLE_MS")) {  // e.g. -1 shows the failure
    argv.push_back("--set");
    argv.push_back(std::string("max.task.idle.ms=") + idle);
  }
  auto app = std::make_unique<ChildProcess>(argv, log_path(0));
  // The ids output is written for every record: once it is complete, so is the join's output.
  const auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(static_cast<int>(ids.size()), kRecords) << logs(1);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  expect_every_record_joined(joined, kRecords);
}

// A GlobalKTable preloaded before the start: the global consumer (a group-less PartitionReader)
// bootstraps every partition of it before any stream task runs, so every stream record joins.
TEST_F(CounterAppTest, AGlobalTableIsBootstrappedBeforeProcessingSoEveryRecordJoins) {
  constexpr int kRecords = 2000;
  const std::string table = app_id_ + "-global-labels";
  const std::string joined = app_id_ + "-global-joined";
  create_topic(table, 5);  // not co-partitioned with the input: a global table needs not be
  create_topic(joined, 3);
  preload_labels(table, kRecords);
  produce_async(kRecords, 0);
  producer_thread_.join();
  auto app = start_instance(0, "exactly_once_v2", "", {}, {"--global-table", table, "--global-joined-out", joined});
  const auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(static_cast<int>(ids.size()), kRecords) << logs(1);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  expect_every_record_joined(joined, kRecords);
  EXPECT_NE(testing::tail_file(log_path(0), 200).find("global stores bootstrapped from 5 partition(s)"),
            std::string::npos)
      << logs(1);
}

// librdkafka keeps a partition's pause across a rebalance that gives it back to the same consumer.
// With a backlog and a small buffered.records.per.partition, the inputs are paused most of the time
// (backpressure); rebalances while they are (a second instance joins, then leaves) must not leave a
// partition paused for good: every record is processed, exactly once.
TEST_F(CounterAppTest, PartitionsPausedByBackpressureAcrossRebalancesAreResumed) {
  constexpr int kRecords = 300000;
  produce_async(kRecords, 0);
  producer_thread_.join();
  const std::vector<std::string> settings = {"buffered.records.per.partition=20"};
  auto a = start_instance(0, "exactly_once_v2", "", settings);
  std::this_thread::sleep_for(5s);  // A works through the backlog, its inputs paused most of the time
  for (int round = 0; round < 2; ++round) {
    auto b = start_instance(1, "exactly_once_v2", "", settings);
    std::this_thread::sleep_for(3s);
    EXPECT_EQ(b->terminate(30s), 0) << logs(2);
    std::this_thread::sleep_for(2s);
  }
  const auto ids = wait_for_ids(kRecords, 120s);
  std::set<std::string> unique;
  for (const auto& r : ids) unique.insert(*r.key);
  EXPECT_EQ(unique.size(), static_cast<size_t>(kRecords)) << logs(2);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(a->terminate(30s), 0) << logs(1);
}

TEST_F(CounterAppTest, TwoStreamThreadsShareTheTasksAndStayExactlyOnceAcrossASigkill) {
  constexpr int kRecords = 6000;
  produce_async(kRecords, 1500);
  auto app = start_instance(0, "exactly_once_v2", "", {"num.stream.threads=2"});
  std::this_thread::sleep_for(2500ms);
  app->kill_hard();
  app = start_instance(0, "exactly_once_v2", "", {"num.stream.threads=2"});
  producer_thread_.join();
  const auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  std::set<std::string> unique;
  for (const auto& r : ids) unique.insert(*r.key);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRecords)) << logs(1);
  EXPECT_EQ(unique.size(), static_cast<size_t>(kRecords));
  const CountCheck counts = check_counts(kRecords);
  EXPECT_EQ(counts.exact_sequences, kGroups) << counts.first_problem;
  const std::string log = testing::tail_file(log_path(0), 300);
  EXPECT_NE(log.find("StreamThread-2"), std::string::npos) << "the second thread ran no task\n" << log;
}

// Issue 23 item 4: a rebalance used to close every task of the instances that stay and restore it
// from its changelog. Two instances under load; a third joins and later leaves. The range assignor
// gives each survivor back at least one of its partitions in both rebalances, and such a task is
// resumed (kept open, nothing restored); the output stays exactly-once.
TEST_F(CounterAppTest, TasksASurvivorKeepsAcrossAJoinAndALeaveAreResumedNotRestored) {
  constexpr int kRecords = 9000;
  produce_async(kRecords, 500);  // 18 s
  auto a = start_instance(0, "exactly_once_v2");
  auto b = start_instance(1, "exactly_once_v2");
  const std::regex running(R"(task \[\d_\d\] running with)");
  auto wait_until_running = [&](int instance) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::regex_search(testing::tail_file(log_path(instance), 2000), running)) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  };
  ASSERT_TRUE(wait_until_running(0) && wait_until_running(1)) << logs(2);
  std::this_thread::sleep_for(3s);  // both in the group, processing
  auto c = start_instance(2, "exactly_once_v2");
  ASSERT_TRUE(wait_until_running(2)) << logs(3);
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(c->terminate(30s), 0) << logs(3);
  producer_thread_.join();
  const auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(a->terminate(30s), 0) << logs(2);
  EXPECT_EQ(b->terminate(30s), 0) << logs(2);
  expect_exactly_once(ids, kRecords);
  // Each rebalance resumes at least one task on some survivor.
  int resumed = 0;
  for (int i : {0, 1}) {
    const std::string log = testing::tail_file(log_path(i), 5000);
    for (size_t at = log.find("resumed after the rebalance"); at != std::string::npos;
         at = log.find("resumed after the rebalance", at + 1)) {
      ++resumed;
    }
  }
  EXPECT_GE(resumed, 2) << "the survivors closed and restored the tasks they kept\n" << logs(2);
  // The instance that left on SIGTERM gave its partitions up before closing (flushing) its stores.
  const std::string left = testing::tail_file(log_path(2), 5000);
  const size_t term = left.find("shutting down");
  ASSERT_NE(term, std::string::npos) << left;
  const size_t revoked = left.find("partitions revoked", term);
  const size_t closed = left.find("] closed", term);
  EXPECT_NE(closed, std::string::npos) << left.substr(term);
  EXPECT_LT(revoked, closed) << left.substr(term);
}

// Static membership (consumer.group.instance.id, one static member per thread): an instance
// SIGKILLed and restarted within session.timeout.ms gets its partitions back without a rebalance,
// so the other instance is not interrupted at all; the output stays exactly-once. Without it, the
// restarted instance joins as a new member and every instance goes through a rebalance.
TEST_F(CounterAppTest, WithStaticMembershipAQuicklyRestartedInstanceCausesNoRebalance) {
  constexpr int kRecords = 8000;
  auto settings = [](const std::string& member) {
    return std::vector<std::string>{"consumer.group.instance.id=" + member, "session.timeout.ms=20000"};
  };
  auto count_in_log = [&](int instance, const std::string& needle) {
    const std::string log = testing::tail_file(log_path(instance), 100000);
    int n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  };
  produce_async(kRecords, 500);  // 16 s
  auto a = start_instance(0, "exactly_once_v2", "", settings("counter-a"));
  auto b = start_instance(1, "exactly_once_v2", "", settings("counter-b"));
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline &&
         (count_in_log(0, "] running with") == 0 || count_in_log(1, "] running with") == 0)) {
    std::this_thread::sleep_for(200ms);
  }
  std::this_thread::sleep_for(3s);  // the group is stable, both process
  const int revoked_before = count_in_log(1, "partitions revoked");
  a->kill_hard();
  std::this_thread::sleep_for(500ms);
  a = start_instance(0, "exactly_once_v2", "", settings("counter-a"));
  producer_thread_.join();
  const auto ids = wait_for_ids(kRecords, 120s);
  EXPECT_EQ(a->terminate(30s), 0) << logs(2);
  EXPECT_EQ(count_in_log(1, "partitions revoked"), revoked_before)
      << "the instance that kept running went through a rebalance\n"
      << logs(2);
  EXPECT_EQ(b->terminate(30s), 0) << logs(2);
  expect_exactly_once(ids, kRecords);
}

TEST_F(CounterAppTest, InternalTopicWithTheWrongPartitionCountIsAClearStartupError) {
  // The repartition topic exists with 2 partitions; the topology needs 3 (its input has 3).
  create_topic(app_id_ + "-by-group-repartition", 2);
  auto app = start_instance(0, "exactly_once_v2");
  for (int i = 0; i < 100 && app->running(); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_FALSE(app->running()) << "the instance started anyway\n" << logs(1);
  EXPECT_EQ(app->terminate(1s), 1);
  const std::string log = testing::tail_file(log_path(0), 50);
  EXPECT_NE(log.find("has 2 partitions but the topology needs 3"), std::string::npos) << log;
}

TEST_F(CounterAppTest, WipedLocalStateIsRestoredFromTheChangelogBeforeProcessingGoesOn) {
  constexpr int kFirst = 3000;
  constexpr int kTotal = 6000;
  produce_async(kFirst, 0);
  producer_thread_.join();
  auto app = start_instance(0, "exactly_once_v2");
  ASSERT_EQ(static_cast<int>(wait_for_ids(kFirst, 120s).size()), kFirst) << logs(1);
  ASSERT_EQ(app->terminate(30s), 0) << logs(1);
  // Lose the disk: the counts must come back from <app>-group-counts-changelog.
  std::filesystem::remove_all(dir_ / "state-0");
  app = start_instance(0, "exactly_once_v2");
  produce_async(kTotal, 0);  // ids 0..5999 again: the first 3000 re-sent as new records
  producer_thread_.join();
  ASSERT_GE(static_cast<int>(wait_for_ids(kFirst + kTotal, 120s).size()), kFirst + kTotal) << logs(1);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  const std::string log = testing::tail_file(log_path(0), 400);
  EXPECT_NE(log.find("group-counts-changelog"), std::string::npos) << "no restoration logged\n" << log;
  // Counts continue from the restored values: every group's updates are exactly 1..n over both runs.
  const CountCheck counts = check_counts(kFirst + kTotal);
  EXPECT_EQ(counts.exact_sequences, kGroups) << counts.first_problem;
}

// RocksDB stores skip the write-ahead log (docs/state-stores.md): a SIGKILL loses what the stores
// wrote since their last background flush, and the restarted instance replays only that tail of each
// changelog, from the offsets of the flush - never the whole changelog - and stays exactly-once.
TEST_F(CounterAppTest, ASigkilledInstanceRestoresOnlyTheChangelogTailSinceItsStoresLastFlushed) {
  constexpr int kFirst = 3000;
  constexpr int kTotal = 5000;
  const std::vector<std::string> settings{"statestore.flush.interval.ms=300"};
  produce_async(kFirst, 0);
  producer_thread_.join();
  auto app = start_instance(0, "exactly_once_v2", "", settings);
  ASSERT_EQ(static_cast<int>(wait_for_ids(kFirst, 120s).size()), kFirst) << logs(1);
  std::this_thread::sleep_for(1s);  // the next write comes > 300 ms after the oldest unflushed one
  produce_async(kTotal, 500);       // ids 0..4999 again, as new records, for 10 s
  std::this_thread::sleep_for(3s);
  app->kill_hard();  // mid-stream: the restarted instance processes the rest
  app = start_instance(0, "exactly_once_v2", "", settings);
  producer_thread_.join();
  ASSERT_GE(static_cast<int>(wait_for_ids(kFirst + kTotal, 120s).size()), kFirst + kTotal) << logs(1);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  // Every restoration of group-counts resumed from a flushed offset, none from the beginning.
  const std::string log = testing::tail_file(log_path(0), 600);
  const std::regex restoring(
      R"(restoring group-counts of \S+-group-counts-changelog-(\d+) from offset (\d+) to (\d+))");
  const std::regex running(R"(task \[\d_\d\] running with)");
  EXPECT_EQ(std::distance(std::sregex_iterator(log.begin(), log.end(), running), std::sregex_iterator()), 12)
      << "both runs should run the 6 tasks\n"
      << log;
  int restorations = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), restoring); it != std::sregex_iterator(); ++it) {
    ++restorations;
    EXPECT_GT(std::stoll((*it)[2].str()), 0) << "partition " << (*it)[1].str() << " replayed its whole changelog\n"
                                             << log;
  }
  EXPECT_LE(restorations, 3) << log;  // one per partition at most: a single restart
  const CountCheck counts = check_counts(kFirst + kTotal);
  EXPECT_EQ(counts.exact_sequences, kGroups) << counts.first_problem;
}

// Restoration runs in the stream thread's loop, a bounded batch per iteration: while task 1_0 of
// group-counts restores (its local state wiped, restoration slowed down by the test aid
// restore.throttle.ms), its keys answer 503 "restoring" at once, stale=true reads what was restored
// so far, keys of the tasks that are already running answer 200, and afterwards the counts continue
// exactly (exactly-once) from the restored state.
TEST_F(CounterAppTest, QueriesAreAnsweredWhileATaskRestoresAndCountsContinueExactlyAfterwards) {
  constexpr int kFirst = 3000;
  constexpr int kTotal = 6000;
  constexpr int64_t kFirstCount = kFirst / kGroups;
  const std::string server = "127.0.0.1:" + std::to_string(testing::free_tcp_port());
  produce_async(kFirst, 0);
  producer_thread_.join();
  // Without the changelog cache every count update is a changelog record: a long changelog to
  // restore (with it, one record per key and commit would restore before the test can look).
  auto app = start_instance(0, "exactly_once_v2", server, {"statestore.cache.max.bytes=0"});
  ASSERT_EQ(static_cast<int>(wait_for_ids(kFirst, 120s).size()), kFirst) << logs(1);
  ASSERT_EQ(app->terminate(30s), 0) << logs(1);
  // Lose task 1_0's stores only (group-counts is in subtopology 1): 1_1 and 1_2 start current.
  const auto task_dir = dir_ / "state-0" / app_id_ / "1_0";
  ASSERT_TRUE(std::filesystem::exists(task_dir)) << task_dir;
  std::filesystem::remove_all(task_dir);
  // ~750 changelog records for 1_0 at 5 records per 100 ms: about 15 s of restoration.
  app = start_instance(0, "exactly_once_v2", server, {"restore.batch.records=5", "restore.throttle.ms=100"});
  auto client = runtime::http::HttpClient::create("http://" + server);
  ASSERT_TRUE(client.ok()) << client.status();

  // Find the restoring keys: 503 with a JSON body naming the restoration, answered promptly (the
  // stream thread's loop is not blocked by restoration).
  std::set<std::string> restoring;
  std::map<std::string, int64_t> running;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  // One pass must see both kinds (right after assignment every task restores for a moment: 1_1 and
  // 1_2 only have their trailing transaction marker to read).
  while ((restoring.empty() || running.empty()) && std::chrono::steady_clock::now() < deadline) {
    restoring.clear();
    running.clear();
    for (int g = 0; g < kGroups; ++g) {
      const std::string key = "g-" + std::to_string(g);
      const auto t0 = std::chrono::steady_clock::now();
      auto r = (*client)->get("/v1/stores/group-counts/keys/" + key);
      const auto took = std::chrono::steady_clock::now() - t0;
      if (!r.ok()) break;  // the server is not up yet
      if (r->status == 503) {
        const auto body = nlohmann::json::parse(r->body);
        if (body.value("message", "").find("is restoring") == std::string::npos) continue;  // e.g. rebalancing
        EXPECT_LT(took, 2s) << key;
        restoring.insert(key);
      } else if (r->status == 200) {
        running[key] = nlohmann::json::parse(r->body)["value"].get<int64_t>();
      }
    }
    if (restoring.empty() || running.empty()) std::this_thread::sleep_for(100ms);
  }
  // A pass takes a while (lookups of running tasks wait for the loop): keep the keys that still
  // restore, so that a task seen restoring only at the start of the pass drops out.
  for (auto it = restoring.begin(); it != restoring.end();) {
    auto r = (*client)->get("/v1/stores/group-counts/keys/" + *it);
    ASSERT_TRUE(r.ok());
    it = r->status == 503 ? std::next(it) : restoring.erase(it);
  }
  ASSERT_FALSE(restoring.empty()) << "no key was seen restoring\n" << logs(1);
  // Keys of the running tasks answer with their complete counts meanwhile.
  ASSERT_FALSE(running.empty()) << logs(1);
  for (const auto& [key, value] : running) EXPECT_EQ(value, kFirstCount) << key;
  // stale=true reads the partially restored value while the plain lookup still says restoring.
  int stale_answers = 0;
  bool restored_meanwhile = false;
  const auto stale_deadline = std::chrono::steady_clock::now() + 20s;
  while (stale_answers == 0 && !restored_meanwhile && std::chrono::steady_clock::now() < stale_deadline) {
    for (const auto& key : restoring) {
      auto plain = (*client)->get("/v1/stores/group-counts/keys/" + key);
      ASSERT_TRUE(plain.ok());
      if (plain->status != 503) {
        restored_meanwhile = true;
        break;
      }
      auto r = (*client)->get("/v1/stores/group-counts/keys/" + key + "?stale=true");
      ASSERT_TRUE(r.ok());
      if (r->status == 404) continue;  // not restored yet
      ASSERT_EQ(r->status, 200) << key << ": " << r->body;
      const int64_t v = nlohmann::json::parse(r->body)["value"].get<int64_t>();
      EXPECT_GE(v, 1) << key;
      EXPECT_LE(v, kFirstCount) << key;
      ++stale_answers;
    }
    if (stale_answers == 0) std::this_thread::sleep_for(100ms);
  }
  EXPECT_GT(stale_answers, 0) << "no stale read during restoration (restored meanwhile: " << restored_meanwhile
                              << ", restoring keys: " << restoring.size() << ")\n"
                              << logs(1);
  // New input while 1_0 restores: its partition is paused and processed after restoration.
  produce_async(kTotal, 0);
  producer_thread_.join();
  ASSERT_GE(static_cast<int>(wait_for_ids(kFirst + kTotal, 120s).size()), kFirst + kTotal) << logs(1);
  // After restoration every key answers, with the final count.
  const int64_t final_count = (kFirst + kTotal) / kGroups;
  for (const auto& key : restoring) {
    runtime::http::HttpResponse r;
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto got = (*client)->get("/v1/stores/group-counts/keys/" + key);
      ASSERT_TRUE(got.ok());
      r = *got;
      if (r.status == 200 && nlohmann::json::parse(r.body)["value"] == final_count) break;
      std::this_thread::sleep_for(200ms);
    }
    ASSERT_EQ(r.status, 200) << key << ": " << r.body;
    EXPECT_EQ(nlohmann::json::parse(r.body)["value"], final_count) << key;
  }
  const CountCheck counts = wait_for_counts(kFirst + kTotal, 120s);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  const std::string log = testing::tail_file(log_path(0), 400);
  EXPECT_NE(log.find("task [1_0] restored"), std::string::npos) << log;
  EXPECT_EQ(counts.exact_sequences, kGroups) << counts.first_problem;
}

// A second instance joins while the first restores (slowly): the rebalance revokes tasks that are
// mid-restore. They close cleanly (nothing committed for them), restoration resumes wherever they
// land, and the counts over both instances stay exactly-once.
TEST_F(CounterAppTest, RevokingATaskMidRestoreIsSafeAndCountsStayExact) {
  constexpr int kFirst = 3000;
  constexpr int kTotal = 6000;
  produce_async(kFirst, 0);
  producer_thread_.join();
  // Every count update in the changelog (no changelog cache): a restoration long enough to revoke.
  instances_.push_back(start_instance(0, "exactly_once_v2", "", {"statestore.cache.max.bytes=0"}));
  ASSERT_EQ(static_cast<int>(wait_for_ids(kFirst, 120s).size()), kFirst) << logs(1);
  ASSERT_EQ(instances_[0]->terminate(30s), 0) << logs(1);
  std::filesystem::remove_all(dir_ / "state-0");
  instances_[0] = start_instance(0, "exactly_once_v2", "", {"restore.batch.records=10", "restore.throttle.ms=100"});
  // Wait until it restores, then bring in the second instance.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline &&
         testing::tail_file(log_path(0), 200).find("restoring group-counts") == std::string::npos) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_NE(testing::tail_file(log_path(0), 200).find("restoring group-counts"), std::string::npos) << logs(1);
  instances_.push_back(start_instance(1, "exactly_once_v2"));
  produce_async(kTotal, 0);
  producer_thread_.join();
  ASSERT_GE(static_cast<int>(wait_for_ids(kFirst + kTotal, 180s).size()), kFirst + kTotal) << logs(2);
  const CountCheck counts = wait_for_counts(kFirst + kTotal, 180s);
  for (auto& inst : instances_) EXPECT_EQ(inst->terminate(30s), 0) << logs(2);
  const std::string log0 = testing::tail_file(log_path(0), 1000);
  EXPECT_NE(log0.find("closed while restoring"), std::string::npos) << "no task was revoked mid-restore\n" << log0;
  EXPECT_EQ(counts.exact_sequences, kGroups) << counts.first_problem;
}

TEST_F(CounterAppTest, RecordTheClientRefusesGoesToTheDeadLetterTopicAndProcessingGoesOn) {
  // producer.message.max.bytes=2000: a 3000-byte input value cannot be written to the outputs.
  auto app = start_instance(0, "exactly_once_v2", "",
                            {"producer.message.max.bytes=2000", "default.production.exception.handler=dead-letter"});
  auto producer = runtime::ProducerClient::create(client_props({{"enable.idempotence", "true"}}));
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 30; ++i) {
    RawRecord r;
    r.topic = input_;
    r.partition = Partition(-1);
    r.key = "i-" + std::to_string(i);
    r.value = i == 10 ? std::string(3000, 'x') : "g-" + std::to_string(i % kGroups);
    r.timestamp =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    ASSERT_TRUE((*producer)->send(r).ok());
  }
  ASSERT_TRUE((*producer)->flush(30s).ok());
  const auto ids = wait_for_ids(29, 90s);
  EXPECT_EQ(ids.size(), 29u) << logs(1);  // everything but the refused record
  auto dead =
      runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {app_id_ + "-dead-letters"}, 30s);
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_FALSE(dead->empty()) << logs(1);
  // Two refused outputs of record i-10: the copy to ids (key i-10) and the repartition record (keyed by
  // the oversized value itself, so its dead letter carries neither key nor value, only the reason).
  ASSERT_EQ(dead->size(), 2u);
  for (const auto& d : *dead) {
    EXPECT_EQ(*d.headers.last("dlq.error"), "PRODUCTION");
    EXPECT_TRUE(d.headers.last("dlq.target.topic").has_value());
    EXPECT_EQ(*d.headers.last("dlq.value.dropped"), "true");
  }
  EXPECT_TRUE(std::any_of(dead->begin(), dead->end(), [](const RawRecord& d) { return d.key == "i-10"; }));
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
}

// A record whose processing never returns (user code in an endless loop) hangs its stream thread.
// Past processing.record.budget.ms the instance names the record, quarantines it in its state
// directory and exits with status 70; restarted on that directory, it dead-letters the record
// (PROCESSING_BUDGET, original key, value and headers) without processing it, and everything else
// comes out exactly once.
TEST_F(CounterAppTest, ARecordThatHangsTheThreadPastItsBudgetIsQuarantinedAndDeadLetteredAfterTheRestart) {
  const std::vector<std::string> settings = {"processing.record.budget.ms=2000"};
  const std::vector<std::string> hang = {"--hang-on", "g-hang"};
  auto app = start_instance(0, "exactly_once_v2", "", settings, hang);
  constexpr int kRecords = 100;
  produce_now(kRecords, [](int i, RawRecord& r) {
    r.value = i == 40 ? "g-hang" : "g-" + std::to_string(i % kGroups);
    if (i == 40) r.headers.set("trace-id", "poison-40");
  });
  // The hung instance ends by itself once the budget is spent.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (app->running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  ASSERT_FALSE(app->running()) << logs(1);
  EXPECT_EQ(app->terminate(1s), runtime::kExitRecordBudgetExceeded) << logs(1);
  EXPECT_NE(testing::tail_file(log_path(0), 50).find("processing.record.budget.ms"), std::string::npos);

  app = start_instance(0, "exactly_once_v2", "", settings, hang);
  const auto ids = wait_for_ids(kRecords - 1, 90s);
  std::set<std::string> distinct;
  for (const auto& r : ids) distinct.insert(*r.key);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRecords - 1)) << logs(1);  // no duplicates
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kRecords - 1));
  EXPECT_EQ(distinct.count("i-40"), 0u);
  auto dead =
      runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {app_id_ + "-dead-letters"}, 30s);
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_EQ(dead->size(), 1u) << logs(1);
  EXPECT_EQ(dead->front().key, "i-40");
  EXPECT_EQ(dead->front().value, "g-hang");
  EXPECT_EQ(*dead->front().headers.last("dlq.error"), "PROCESSING_BUDGET");
  EXPECT_EQ(*dead->front().headers.last("trace-id"), "poison-40");
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
  // Handled: the quarantine no longer holds it.
  std::ifstream quarantine(dir_ / "state-0" / app_id_ / "quarantine");
  std::string line;
  EXPECT_FALSE(std::getline(quarantine, line) && !line.empty()) << line;
}

// The broker (not the client) refuses a record: the output topic's max.message.bytes is 1000 and one
// result is 2 KB. Its transaction aborts; processed again, that record goes to the production
// handler (dead letter) and everything else comes out exactly once.
TEST_F(CounterAppTest, ARecordTheBrokerRefusesGoesToTheDeadLetterTopicAfterTheAbortAndProcessingGoesOn) {
  ids_ = app_id_ + "-ids-small";
  create_topic(ids_, 3, {{"max.message.bytes", "1000"}});
  // The broker's limit is per record batch: librdkafka's batches must fit it (it does not split a
  // refused batch), so batch.size stays below 1000; the 2 KB record then travels alone.
  auto app = start_instance(0, "exactly_once_v2", "",
                            {"default.production.exception.handler=dead-letter", "producer.batch.size=800"});
  constexpr int kRecords = 200;
  produce_now(kRecords, [](int i, RawRecord& r) {
    r.value = i == 10 ? std::string(2000, 'x') : "g-" + std::to_string(i % kGroups);
  });
  const auto ids = wait_for_ids(kRecords - 1, 90s);
  std::set<std::string> unique;
  for (const auto& r : ids) unique.insert(*r.key);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRecords - 1)) << logs(1);  // all but the refused one, once each
  EXPECT_EQ(unique.size(), static_cast<size_t>(kRecords - 1));
  EXPECT_EQ(unique.count("i-10"), 0u);
  auto dead =
      runtime::read_all(client_props({{"isolation.level", "read_committed"}}), {app_id_ + "-dead-letters"}, 30s);
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_EQ(dead->size(), 1u) << logs(1);
  EXPECT_EQ((*dead)[0].key, "i-10");
  EXPECT_EQ((*dead)[0].value, std::string(2000, 'x'));
  EXPECT_EQ(*(*dead)[0].headers.last("dlq.error"), "PRODUCTION");
  EXPECT_EQ(*(*dead)[0].headers.last("dlq.target.topic"), ids_);
  EXPECT_TRUE(app->running()) << logs(1);
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
}

// librdkafka 2.0 stops fetching at a full prefetch queue and looks again only on a one-second
// timer; the stream thread wakes it once it has drained the queue. A tiny queue
// (queued.min.messages=2000) makes a 30,000-record backlog fill it ~15 times: every record must come
// out exactly once, and the wake-up counter shows the path ran.
TEST_F(CounterAppTest, BacklogLargerThanThePrefetchQueueIsProcessedExactlyOnceWithTheFetcherWoken) {
  constexpr int kRecords = 30000;
  produce_async(kRecords, 0);
  producer_thread_.join();
  const std::string server = "127.0.0.1:" + std::to_string(testing::free_tcp_port());
  auto app = start_instance(0, "exactly_once_v2", server, {"consumer.queued.min.messages=2000"});
  const auto ids = wait_for_ids(kRecords, 120s);
  std::set<std::string> unique;
  int duplicates = 0;
  for (const auto& r : ids) duplicates += unique.insert(*r.key).second ? 0 : 1;
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(static_cast<int>(unique.size()), kRecords) << logs(1);
  const CountCheck counts = wait_for_counts(kRecords, 60s);
  EXPECT_EQ(counts.exact_sequences, kGroups) << counts.first_problem;

  auto client = runtime::http::HttpClient::create("http://" + server);
  ASSERT_TRUE(client.ok()) << client.status();
  auto metrics = (*client)->get("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  double wakeups = 0;
  std::istringstream lines(metrics->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("kstreams_thread_fetcher_wakeups_total{", 0) == 0)
      wakeups += std::stod(line.substr(line.rfind(' ')));
  }
  EXPECT_GE(wakeups, 1) << "the fetcher was never woken: " << metrics->body.substr(0, 2000);
  RecordProperty("fetcher_wakeups", static_cast<int>(wakeups));
  EXPECT_EQ(app->terminate(30s), 0) << logs(1);
}

// Hostile HTTP input against the real query server process: a path byte that is not UTF-8, an
// undecodable key, 50 slowloris connections and a header flood. The instance answers 400/404 (never
// 500), stays alive, and keeps answering /healthz quickly throughout.
TEST_F(CounterAppTest, TheQueryServerProcessSurvivesHostileRequestsAndStaysResponsive) {
  const int port = testing::free_tcp_port();
  const std::string server = "127.0.0.1:" + std::to_string(port);
  instances_.push_back(start_instance(0, "exactly_once_v2", server));
  auto client = runtime::http::HttpClient::create("http://" + server);
  ASSERT_TRUE(client.ok());
  const auto up = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < up) {
    auto r = (*client)->get("/healthz");
    if (r.ok() && r->status == 200) break;
    std::this_thread::sleep_for(200ms);
  }
  const auto status_of = [&](const std::string& request) {
    testing::RawConnection c(port);
    EXPECT_TRUE(c.connected());
    c.send(request);
    const std::string answer = c.read_for(3s);
    return answer.size() >= 12 ? std::stoi(answer.substr(9, 3)) : -1;
  };
  EXPECT_EQ(status_of("GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n") / 100, 4);
  const int undecodable = status_of("GET /v1/stores/group-counts/keys/%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(undecodable == 400 || undecodable == 404) << undecodable;
  std::string flood = "GET /healthz HTTP/1.1\r\n";
  for (int i = 0; i < 2000; ++i) flood += "X-Flood-" + std::to_string(i) + ": " + std::string(100, 'a') + "\r\n";
  EXPECT_EQ(status_of(flood + "\r\n") / 100, 4);

  // 50 slowloris connections: one byte of a request line every 500 ms.
  std::vector<std::unique_ptr<testing::RawConnection>> slow;
  for (int i = 0; i < 50; ++i) slow.push_back(std::make_unique<testing::RawConnection>(port));
  std::vector<double> probe_ms;
  const std::string line = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (size_t step = 0; step < 12; ++step) {
    for (auto& c : slow) c->send(std::string(1, line[step % line.size()]));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = (*client)->get("/healthz");
    probe_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    std::this_thread::sleep_for(500ms);
  }
  std::sort(probe_ms.begin(), probe_ms.end());
  std::printf("healthz under 50 slowloris connections: median %.1f ms, max %.1f ms\n", probe_ms[probe_ms.size() / 2],
              probe_ms.back());
  EXPECT_LT(probe_ms[probe_ms.size() / 2], 100.0);
  EXPECT_LT(probe_ms.back(), 1000.0);
  slow.clear();
  EXPECT_EQ(instances_[0]->terminate(30s), 0) << logs(1);  // alive all along, and closes cleanly
}

// close() while queries arrive: the HTTP handlers read the stream threads (state, degraded reason,
// local stores) and forward to the other instance, so the server must stop before the threads go.
// Four clients hammer instance A (health, metadata, local and forwarded keys) while it gets SIGTERM:
// it exits cleanly (0) within the shutdown timeout, and every request got an answer or a closed
// connection, never a hang.
TEST_F(CounterAppTest, ClosingWhileQueriesArriveStopsTheServerBeforeTheThreadsAndExitsCleanly) {
  const std::string a = "127.0.0.1:" + std::to_string(testing::free_tcp_port());
  const std::string b = "127.0.0.1:" + std::to_string(testing::free_tcp_port());
  instances_.push_back(start_instance(0, "exactly_once_v2", a));
  instances_.push_back(start_instance(1, "exactly_once_v2", b));
  produce_async(1000, 0);
  producer_thread_.join();
  ASSERT_EQ(static_cast<int>(wait_for_ids(1000, 120s).size()), 1000) << logs(2);
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      const std::vector<std::string> paths = {"/healthz", "/v1/metadata",
                                              "/v1/stores/group-counts/keys/g-" + std::to_string(c), "/metrics"};
      for (int i = 0; !stop.load(); ++i) {
        auto client = runtime::http::HttpClient::create("http://" + a);
        if (!client.ok()) return;
        auto r = (*client)->get(paths[i % paths.size()]);
        (r.ok() ? answered : refused)++;
      }
    });
  }
  std::this_thread::sleep_for(1s);
  const int before = answered.load();
  const auto t0 = std::chrono::steady_clock::now();
  const int code = instances_[0]->terminate(40s);
  const auto took = std::chrono::steady_clock::now() - t0;
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(code, 0) << logs(1);
  EXPECT_LT(took, 35s);
  EXPECT_GT(before, 0) << "no query was answered before the close";
  EXPECT_GT(refused.load(), 0) << "the clients never saw the server go";
  EXPECT_EQ(instances_[1]->terminate(30s), 0) << logs(2);
}

TEST_F(CounterAppTest, AnyInstanceAnswersAnyKeyByForwardingAndServesMetrics) {
  constexpr int kRecords = 4000;
  const std::string a = "127.0.0.1:" + std::to_string(testing::free_tcp_port());
  const std::string b = "127.0.0.1:" + std::to_string(testing::free_tcp_port());
  instances_.push_back(start_instance(0, "exactly_once_v2", a));
  instances_.push_back(start_instance(1, "exactly_once_v2", b));
  produce_async(kRecords, 0);
  producer_thread_.join();
  ASSERT_EQ(static_cast<int>(wait_for_ids(kRecords, 120s).size()), kRecords) << logs(2);
  auto client = runtime::http::HttpClient::create("http://" + a);
  ASSERT_TRUE(client.ok()) << client.status();

  // Both instances know each other (the directory is eventually consistent: wait for it).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  nlohmann::json metadata;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = (*client)->get("/v1/metadata");
    if (r.ok() && r->status == 200) {
      metadata = nlohmann::json::parse(r->body);
      if (metadata["instances"].size() == 2) break;
    }
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_EQ(metadata["instances"].size(), 2u) << metadata.dump();

  // Every group's count, asked of instance A: about half live on B and are forwarded.
  int forwarded = 0;
  for (int g = 0; g < kGroups; ++g) {
    const std::string key = "g-" + std::to_string(g);
    const int64_t expected = kRecords / kGroups;
    runtime::http::HttpResponse r;
    for (int attempt = 0; attempt < 50; ++attempt) {  // the count commits a moment after the ids
      auto got = (*client)->get("/v1/stores/group-counts/keys/" + key);
      ASSERT_TRUE(got.ok()) << got.status();
      r = *got;
      if (r.status == 200 && nlohmann::json::parse(r.body)["value"] == expected) break;
      std::this_thread::sleep_for(200ms);
    }
    ASSERT_EQ(r.status, 200) << key << ": " << r.body;
    EXPECT_EQ(nlohmann::json::parse(r.body)["value"], expected) << key << ": " << r.body;
    if (r.headers.count("X-Kstreams-Served-By") > 0 && r.headers.at("X-Kstreams-Served-By") == b) ++forwarded;
  }
  EXPECT_GT(forwarded, 0) << "no key was forwarded to the other instance";

  auto metrics = (*client)->get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("kstreams_thread_process_records_total"), std::string::npos);
  EXPECT_NE(metrics->body.find("kstreams_thread_commits_total"), std::string::npos);
  for (const char* phase : {"prepare", "flush", "stores"}) {
    EXPECT_NE(metrics->body.find(std::string("kstreams_thread_commit_phase_ms_count{phase=\"") + phase + "\""),
              std::string::npos)
        << phase;
  }
  EXPECT_NE(metrics->body.find("kstreams_task_e2e_latency_ms_bucket"), std::string::npos);
  auto health = (*client)->get("/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200) << health->body;

  // Bad requests get JSON errors, never a crash.
  auto unknown_store = (*client)->get("/v1/stores/no-such-store/keys/x");
  ASSERT_TRUE(unknown_store.ok());
  EXPECT_EQ(unknown_store->status, 404);
  auto unknown_key = (*client)->get("/v1/stores/group-counts/keys/g-9999");
  ASSERT_TRUE(unknown_key.ok());
  EXPECT_EQ(unknown_key->status, 404) << unknown_key->body;
  auto bad_limit = (*client)->get("/v1/stores/group-counts/range?from=a&limit=-3");
  ASSERT_TRUE(bad_limit.ok());
  EXPECT_EQ(bad_limit->status, 400);
  auto range = (*client)->get("/v1/stores/group-counts/range?from=g-&limit=1000");
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->status, 200) << range->body;
  for (auto& inst : instances_) EXPECT_EQ(inst->terminate(30s), 0) << logs(2);
}

}  // namespace
}  // namespace kstreams
