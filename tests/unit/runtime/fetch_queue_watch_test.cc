// FetchQueueWatch: when the stream thread wakes a librdkafka 2.0 fetcher that stopped because its
// prefetch queue filled (once per fill, after the queue drained below half of both thresholds).
#include "fetch_queue_watch.h"

#include <gtest/gtest.h>

namespace kstreams::runtime {
namespace {

FetchQueueWatch watch(int64_t records, int64_t bytes) {
  FetchQueueWatch w;
  w.max_records = records;
  w.max_bytes = bytes;
  return w;
}

TEST(FetchQueueWatchTest, WakesOnceAfterAFullQueueDrainsBelowHalf) {
  auto w = watch(1000, 1 << 30);
  EXPECT_FALSE(w.should_wake(0)) << "a queue that never filled needs no wake-up";
  w.observe(499);
  EXPECT_FALSE(w.filled);
  w.observe(500);  // half the record threshold counts as full (peaks between samples go unseen)
  EXPECT_TRUE(w.filled);
  EXPECT_FALSE(w.should_wake(700)) << "still above half";
  EXPECT_FALSE(w.should_wake(500));
  EXPECT_TRUE(w.should_wake(499));
  EXPECT_FALSE(w.should_wake(10)) << "once per fill";
  w.observe(900);
  EXPECT_TRUE(w.should_wake(0)) << "the next fill wakes again";
}

TEST(FetchQueueWatchTest, ByteThresholdUsesTheRunningAverageRecordSize) {
  auto w = watch(1'000'000, 100'000);  // the byte threshold binds first
  w.observe(400);
  EXPECT_FALSE(w.filled) << "no record size known yet";
  w.sample(100 * 250, 100);  // 250-byte records
  w.observe(200);            // 50,000 bytes: half of 100,000
  EXPECT_TRUE(w.filled);
  EXPECT_FALSE(w.should_wake(200));
  EXPECT_TRUE(w.should_wake(199));
}

TEST(FetchQueueWatchTest, RecordSizeAverageMovesSlowlyAndIgnoresEmptyBatches) {
  FetchQueueWatch w;
  w.sample(0, 0);
  EXPECT_EQ(w.avg_record_bytes, 0);
  w.sample(1000, 10);  // first sample: taken as is
  EXPECT_DOUBLE_EQ(w.avg_record_bytes, 100);
  w.sample(2000, 10);  // 0.9 * 100 + 0.1 * 200
  EXPECT_DOUBLE_EQ(w.avg_record_bytes, 110);
}

}  // namespace
}  // namespace kstreams::runtime
