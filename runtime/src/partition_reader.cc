#include "partition_reader.h"

#include "kstreams/common/logging.h"
#include "kstreams/common/status.h"
#include "rdkafka_util.h"

namespace kstreams::runtime {

absl::StatusOr<std::unique_ptr<PartitionReader>> PartitionReader::create(Properties props, const std::string& what) {
  props.erase("group.id");
  KSTREAMS_ASSIGN_OR_RETURN(auto conf, rdk::make_conf(props));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof(err));
  if (rk == nullptr) return absl::InvalidArgumentError("creating " + what + ": " + err);
  conf.release();  // owned by rk now
  return std::unique_ptr<PartitionReader>(new PartitionReader(rk, what));
}

PartitionReader::PartitionReader(rd_kafka_t* rk, std::string what)
    : rk_(rk), queue_(rd_kafka_queue_new(rk)), what_(std::move(what)) {}

PartitionReader::~PartitionReader() {
  stop_all();
  for (auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
  rd_kafka_queue_destroy(queue_);
  rd_kafka_destroy(rk_);
}

rd_kafka_topic_t* PartitionReader::topic(const std::string& name) {
  auto it = topics_.find(name);
  if (it != topics_.end()) return it->second;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, name.c_str(), nullptr);
  if (rkt != nullptr) topics_.emplace(name, rkt);
  return rkt;
}

void PartitionReader::stop_all() {
  for (const auto& [name, partition] : started_) {
    if (rd_kafka_consume_stop(topics_.at(name), partition) != 0) {
      KS_LOG_WARN("{}: stopping {}-{}: {}", what_, name, partition, rd_kafka_err2str(rd_kafka_last_error()));
    }
  }
  started_.clear();
}

absl::Status PartitionReader::assign(const std::vector<Start>& partitions) {
  stop_all();
  for (const auto& p : partitions) {
    rd_kafka_topic_t* rkt = topic(p.topic);
    if (rkt == nullptr) return rdk::to_status(rd_kafka_last_error(), what_ + ": topic " + p.topic);
    if (rd_kafka_consume_start_queue(rkt, p.partition, p.offset, queue_) != 0) {
      return rdk::to_status(rd_kafka_last_error(), what_ + ": reading " + p.topic + "-" + std::to_string(p.partition));
    }
    started_.emplace(p.topic, p.partition);
  }
  return absl::OkStatus();
}

}  // namespace kstreams::runtime
