// Per-source timestamp extractors (Kafka Streams' TimestampExtractor): the extracted time orders
// records within a task, drives stream time and windows, and stamps the outputs; an invalid
// (negative) one drops the record and counts it.
#include <gtest/gtest.h>

#include "kstreams/kstreams.h"

namespace kstreams {
namespace {

// The value is "<event time>:<payload>".
TimestampMs event_time(const RawRecord& r, TimestampMs) {
  if (!r.value) return -1;
  const auto colon = r.value->find(':');
  if (colon == std::string::npos) return -1;
  return std::stoll(r.value->substr(0, colon));
}

TEST(TimestampExtractorTest, ExtractedTimeStampsOutputsAndDrivesWindows) {
  StreamsBuilder builder;
  builder
      .stream<std::string, std::string>(
          "events", Consumed::with(serdes::String(), serdes::String()).with_timestamp_extractor(event_time))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_with_no_grace(std::chrono::milliseconds(1000)))
      .count(Materialized::as("counts"))
      .to_stream()
      .map([](const Windowed<std::string>& w, int64_t n) {
        return std::make_pair(w.key + "@" + std::to_string(w.start), n);
      })
      .to("out", Produced::with(serdes::String(), serdes::Int64()));
  Topology topology = builder.build();
  TopologyTestDriver driver(topology);
  auto in = driver.create_input_topic<std::string, std::string>("events");
  // Record timestamps all say 999999: only the extracted event time may decide the windows.
  in.pipe_input("k", "1500:a", 999'999);
  in.pipe_input("k", "2100:b", 999'999);
  in.pipe_input("k", "2200:c", 999'999);
  auto out = driver.create_output_topic<std::string, int64_t>("out", serdes::String(), serdes::Int64());
  const auto records = out.read_records_to_list();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].key, "k@1000");
  EXPECT_EQ(records[0].timestamp, 1500);
  EXPECT_EQ(records[1].key, "k@2000");
  EXPECT_EQ(records[2].key, "k@2000");
  EXPECT_EQ(*records[2].value, 2);
  EXPECT_EQ(records[2].timestamp, 2200);
}

TEST(TimestampExtractorTest, RecordWithAnInvalidExtractedTimestampIsDroppedAndCounted) {
  StreamsBuilder builder;
  builder
      .stream<std::string, std::string>(
          "events", Consumed::with(serdes::String(), serdes::String()).with_timestamp_extractor(event_time))
      .to("out");
  Topology topology = builder.build();
  TopologyTestDriver driver(topology);
  auto in = driver.create_input_topic<std::string, std::string>("events");
  in.pipe_input("k", "no-time-here", 5);
  in.pipe_input("k", "10:ok", 5);
  auto out = driver.create_output_topic<std::string, std::string>("out");
  const auto values = out.read_values();
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0], "10:ok");
  EXPECT_EQ(driver.metric("kstreams_task_dropped_records_total", {{"reason", "invalid_timestamp"}}), 1.0);
}

}  // namespace
}  // namespace kstreams
