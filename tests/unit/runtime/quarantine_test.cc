// The processing budget's pieces: InFlightRecord (what a thread processes, for the watchdog) and
// Quarantine (records that hung a thread, kept across the restart).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "quarantine.h"
#include "record_watch.h"

namespace kstreams::runtime {
namespace {

using namespace std::chrono_literals;

class QuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kstreams-quarantine-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "quarantine").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(path_) << text; }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(QuarantineTest, NoFileIsAnEmptyQuarantine) {
  auto q = Quarantine::load(path_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ((*q)->size(), 0u);
  EXPECT_FALSE((*q)->contains("orders", 0, 0));
}

TEST_F(QuarantineTest, AnAddedRecordSurvivesAReloadAndIsGoneOnceRemoved) {
  {
    auto q = Quarantine::load(path_);
    ASSERT_TRUE(q.ok());
    ASSERT_TRUE((*q)->add({"orders", 3, 1234}).ok());
    ASSERT_TRUE((*q)->add({"my topic", 0, 7}).ok());   // a name with a space: the topic is the line's rest
    ASSERT_TRUE((*q)->add({"orders", 3, 1234}).ok());  // twice: once
    EXPECT_EQ((*q)->size(), 2u);
  }
  auto q = Quarantine::load(path_);  // the next run
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ((*q)->size(), 2u);
  EXPECT_TRUE((*q)->contains("orders", 3, 1234));
  EXPECT_TRUE((*q)->contains("my topic", 0, 7));
  EXPECT_FALSE((*q)->contains("orders", 3, 1235));
  EXPECT_FALSE((*q)->contains("orders", 2, 1234));
  ASSERT_TRUE((*q)->remove({"orders", 3, 1234}).ok());
  auto again = Quarantine::load(path_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->size(), 1u);
  EXPECT_FALSE((*again)->contains("orders", 3, 1234));
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(QuarantineTest, AFileThatDoesNotParseIsAClearErrorNamingTheLine) {
  for (const std::string bad : {"3 1234\n", "x 1 orders\n", "-1 5 orders\n", "1 -5 orders\n", "1 5\n", "1 5 \n"}) {
    write("0 1 fine\n" + bad);
    auto q = Quarantine::load(path_);
    ASSERT_FALSE(q.ok()) << bad;
    EXPECT_NE(q.status().message().find("line 2"), std::string::npos) << q.status();
  }
}

TEST_F(QuarantineTest, IsBoundedInRecords) {
  auto q = Quarantine::load(path_);
  ASSERT_TRUE(q.ok());
  for (size_t i = 0; i < Quarantine::kMaxRecords; ++i) ASSERT_TRUE((*q)->add({"t", 0, static_cast<int64_t>(i)}).ok());
  EXPECT_EQ((*q)->add({"t", 1, 0}).code(), absl::StatusCode::kResourceExhausted);
  std::string text;
  for (size_t i = 0; i <= Quarantine::kMaxRecords; ++i) text += "0 " + std::to_string(i) + " t\n";
  write(text);
  EXPECT_FALSE(Quarantine::load(path_).ok());
}

TEST(InFlightRecordTest, ReportsOnlyARecordInProcessingLongerThanTheBudget) {
  InFlightRecord watch;
  const std::string* topic = InFlightRecord::intern("orders");
  EXPECT_EQ(topic, InFlightRecord::intern(std::string("orders")));         // one copy per name
  EXPECT_FALSE(watch.overdue(0ns, InFlightRecord::now_ns()).has_value());  // idle
  watch.begin(topic, 2, 99);
  EXPECT_FALSE(watch.overdue(1h, InFlightRecord::now_ns()).has_value());  // within its budget
  auto late = watch.overdue(10ms, InFlightRecord::now_ns() + 1'000'000'000);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(*late, (RecordCoordinates{"orders", 2, 99}));
  watch.end();
  EXPECT_FALSE(watch.overdue(10ms, InFlightRecord::now_ns() + 1'000'000'000).has_value());
}

TEST(InFlightRecordTest, AWatchdogThreadSeesTheHungRecordOfAnotherThread) {
  InFlightRecord watch;
  std::atomic<bool> release{false};
  std::thread worker([&] {
    for (int64_t offset = 0; offset < 1000; ++offset) {  // records that finish at once
      watch.begin(InFlightRecord::intern("fast"), 0, offset);
      watch.end();
    }
    watch.begin(InFlightRecord::intern("slow"), 1, 5);  // then one that hangs
    while (!release.load()) std::this_thread::sleep_for(1ms);
    watch.end();
  });
  std::optional<RecordCoordinates> hung;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!hung && std::chrono::steady_clock::now() < deadline) {
    hung = watch.overdue(50ms, InFlightRecord::now_ns());
    std::this_thread::sleep_for(5ms);
  }
  release = true;
  worker.join();
  ASSERT_TRUE(hung.has_value());
  EXPECT_EQ(*hung, (RecordCoordinates{"slow", 1, 5}));
}

}  // namespace
}  // namespace kstreams::runtime
