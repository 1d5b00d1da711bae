#include "stream_task.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <optional>

#include "kstreams/common/logging.h"
#include "kstreams/topology/processor.h"

namespace kstreams::runtime {

namespace {

const char* policy_name(ErrorPolicy p) {
  switch (p) {
    case ErrorPolicy::kContinue:
      return "continue";
    case ErrorPolicy::kFail:
      return "fail";
    case ErrorPolicy::kDeadLetter:
      return "dead-letter";
  }
  return "?";
}

// A serde or processor may name its dead-letter code with this status payload.
constexpr const char* kDlqErrorPayload = "kstreams/dlq.error";

}  // namespace

StreamTask::StreamTask(TaskId id, const Topology& topology, int32_t subtopology,
                       std::unique_ptr<state::ProcessorStateManager> state, RecordCollector* collector,
                       const Clock& clock, MetricsRegistry* metrics, TaskOptions options)
    : id_(id),
      topology_(topology),
      subtopology_(subtopology),
      state_(std::move(state)),
      collector_(collector),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)) {
  KSTREAMS_CHECK(subtopology >= 0 && subtopology < static_cast<int32_t>(topology.subtopologies().size()),
                 "unknown subtopology");
  KSTREAMS_CHECK(collector_ != nullptr, "a task needs a record collector");
  KSTREAMS_CHECK(options_.max_task_idle_ms < 0 || options_.watermarks != nullptr,
                 "max_task_idle_ms >= 0 needs the watermarks of the input partitions");
  if (options_.dead_letter_topic.empty()) options_.dead_letter_topic = options_.application_id + "-dead-letters";
  log_prefix_ = "stream-thread [" + options_.thread_name + "] task [" + id_.to_string() + "] ";
  if (metrics_) {
    Labels labels{{"task", id_.to_string()}, {"thread", options_.thread_name}};
    process_total_ = &metrics_->counter("kstreams_task_process_total", "Records processed by the task", labels);
    dead_lettered_ = &metrics_->counter("kstreams_task_dead_lettered_records_total",
                                        "Records sent to the dead-letter topic", labels);
    e2e_latency_ =
        &metrics_->histogram("kstreams_task_e2e_latency_ms", "Wall-clock time at processing minus the record timestamp",
                             labels, latency_buckets_ms());
    enforced_processing_ =
        &metrics_->counter("kstreams_task_enforced_processing_total",
                           "Records processed while an empty input partition was not waited for", labels);
  }
}

StreamTask::~StreamTask() {
  if (!closed_) (void)close(false);
}

absl::Status StreamTask::initialize() {
  KSTREAMS_CHECK(!initialized_, "initialize() called twice");
  const auto& sub = topology_.subtopologies()[subtopology_];
  std::map<std::string, internal::NodeBase*> by_name;
  for (const auto& name : sub.nodes) {
    nodes_.push_back(topology_.node(name).factory());
    by_name[name] = nodes_.back().get();
  }
  // Children in creation order (Forwarder index i = i-th child created; branches rely on it).
  for (const auto& name : sub.nodes) {
    for (const auto& parent : topology_.node(name).parents) by_name.at(parent)->add_child(by_name.at(name));
  }
  for (const auto& name : sub.nodes) {
    const auto& spec = topology_.node(name);
    if (spec.kind != internal::NodeKind::kSource) continue;
    auto* source = dynamic_cast<internal::SourceNodeBase*>(by_name.at(name));
    KSTREAMS_CHECK(source != nullptr, "source node is not a SourceNodeBase");
    for (const auto& t : spec.topics) {
      PartitionQueue q;
      q.topic = TopicName{t, spec.internal_topic}.full_name(options_.application_id);
      q.interned_topic = InFlightRecord::intern(q.topic);
      q.partition = id_.partition;
      q.source = source;
      queues_.push_back(std::move(q));
    }
  }
  for (const auto& spec : sub.stores) {
    if (!state_ || !state_->store(spec.name)) {
      return absl::FailedPreconditionError(log_prefix_ + "store '" + spec.name + "' is missing from the state manager");
    }
  }
  for (auto& node : nodes_) node->init(*this);
  initialized_ = true;
  committed_progress_ = progress_snapshot();
  // The progress travels in the committed offsets' metadata, which the broker bounds: refuse a
  // topology whose progress could outgrow it now rather than at the first commit.
  TaskProgress widest = committed_progress_;
  widest.sequence = std::numeric_limits<int64_t>::max();
  widest.stream_time = std::numeric_limits<int64_t>::min();
  for (auto& [id, next] : widest.punctuations) next = std::numeric_limits<int64_t>::min();
  for (auto& [key, value] : widest.values) value = std::numeric_limits<int64_t>::min();
  const size_t widest_bytes = encode_task_progress(widest).size();
  if (widest_bytes > kMaxCommitMetadataBytes) {
    return absl::FailedPreconditionError(log_prefix_ + "the task's progress (" + std::to_string(widest.values.size()) +
                                         " node values) may take " + std::to_string(widest_bytes) +
                                         " bytes, more than the " + std::to_string(kMaxCommitMetadataBytes) +
                                         " bytes of commit metadata Kafka keeps: split the subtopology");
  }
  return absl::OkStatus();
}

int64_t* StreamTask::progress(const std::string& key, int64_t initial) {
  KSTREAMS_CHECK(!initialized_, "TaskContext::progress() is for init(), before the task runs");
  auto [it, inserted] = progress_.try_emplace(key, initial);
  KSTREAMS_CHECK(inserted, "two nodes of a task asked for the same progress key");
  return &it->second;
}

TaskProgress StreamTask::progress_snapshot() const {
  TaskProgress p;
  p.sequence = committed_progress_.sequence + static_cast<int64_t>(sealed_progress_.size());
  p.stream_time = stream_time_;
  for (const auto& s : schedules_) {
    if (s.type == PunctuationType::kStreamTime && !s.cancelled) p.punctuations[s.id] = s.next;
  }
  p.values = progress_;
  return p;
}

void StreamTask::apply_progress(const TaskProgress& p) {
  stream_time_ = p.stream_time;
  for (auto& s : schedules_) {
    if (s.type != PunctuationType::kStreamTime) continue;
    auto it = p.punctuations.find(s.id);
    if (it != p.punctuations.end()) s.next = it->second;
  }
  for (auto& [key, value] : progress_) {
    auto it = p.values.find(key);
    if (it != p.values.end()) value = it->second;
  }
}

bool StreamTask::restore_progress(const std::vector<std::string>& committed_metadata) {
  KSTREAMS_CHECK(initialized_ && !closed_, "restore_progress() needs an initialized task");
  std::optional<TaskProgress> newest;
  for (const auto& m : committed_metadata) {
    if (m.empty()) continue;  // a partition never committed with progress
    auto p = decode_task_progress(m);
    if (!p.ok()) {
      KS_LOG_WARN("{}ignoring committed offset metadata: {}", log_prefix_, std::string(p.status().message()));
      continue;
    }
    if (!newest || p->sequence > newest->sequence) newest = std::move(*p);
  }
  if (!newest) return false;
  apply_progress(*newest);
  committed_progress_ = progress_snapshot();
  committed_progress_.sequence = newest->sequence;
  KS_LOG_DEBUG("{}restored progress: stream time {}, commit {}", log_prefix_, stream_time_, newest->sequence);
  return true;
}

std::string StreamTask::commit_metadata() const {
  if (!sealed_progress_.empty()) return encode_task_progress(sealed_progress_.back());
  TaskProgress p = progress_snapshot();
  ++p.sequence;
  return encode_task_progress(p);
}

std::vector<std::string> StreamTask::source_topics() const {
  std::vector<std::string> out;
  for (const auto& q : queues_) out.push_back(q.topic);
  return out;
}

StreamTask::PartitionQueue* StreamTask::queue_for(const std::string& topic, int32_t partition) {
  for (auto& q : queues_) {
    if (q.topic == topic && q.partition == partition) return &q;
  }
  return nullptr;
}

void StreamTask::add_records(const std::string& topic, int32_t partition, std::vector<RawRecord>&& records) {
  PartitionQueue* q = queue_for(topic, partition);
  KSTREAMS_CHECK(q != nullptr, "records for a partition this task does not read");
  if (!records.empty()) {
    const int64_t next = records.back().offset.value() + 1;
    q->position = std::max(q->position, next);
    // The consumer reports the end of a fetch in the same poll as its records, and the thread hands
    // the end over first (StreamThread::poll_and_route): records up to the reported end keep it.
    if (next > q->eof_offset) {
      q->eof_high = -1;
      q->eof_offset = -1;
    }
  }
  for (auto& r : records) {
    const TimestampMs partition_time = q->records.empty() ? stream_time_ : q->records.back().timestamp;
    r.timestamp = q->source->extract_timestamp(r, partition_time);
    if (r.timestamp < 0) {
      // Kafka Streams drops records whose extracted timestamp is invalid; count it, and let the
      // offset advance past it when the next record of the partition is processed.
      record_dropped("invalid_timestamp");
      continue;
    }
    q->records.push_back(std::move(r));
  }
}

size_t StreamTask::buffered(const std::string& topic, int32_t partition) const {
  for (const auto& q : queues_) {
    if (q.topic == topic && q.partition == partition) return q.records.size();
  }
  return 0;
}

bool StreamTask::has_buffered() const {
  return std::any_of(queues_.begin(), queues_.end(), [](const auto& q) { return !q.records.empty(); });
}

void StreamTask::end_of_partition(const std::string& topic, int32_t partition, int64_t offset) {
  PartitionQueue* q = queue_for(topic, partition);
  if (q == nullptr || offset < 0) return;
  q->position = std::max(q->position, offset);
  q->eof_offset = q->position;
  q->eof_high = options_.watermarks ? std::max<int64_t>(options_.watermarks(topic, partition).second, offset) : offset;
}

int64_t StreamTask::lag_of(const PartitionQueue& q) const {
  if (!options_.watermarks) return -1;
  // read_committed: at the reported end (the LSO) until records past it arrive, whatever the
  // high watermark says (open transactions, the thread's own among them).
  if (options_.read_committed && q.eof_offset >= 0 && q.position <= q.eof_offset) return 0;
  const auto [low, high] = options_.watermarks(q.topic, q.partition);
  if (high < 0) return -1;                              // no fetch response yet
  if (low >= 0 && low >= high) return 0;                // the log is empty
  if (q.eof_high >= 0 && high <= q.eof_high) return 0;  // at the end, nothing written since
  if (q.position < 0) return -1;
  return std::max<int64_t>(0, high - q.position);
}

int64_t StreamTask::partition_lag(const std::string& topic, int32_t partition) const {
  for (const auto& q : queues_) {
    if (q.topic == topic && q.partition == partition) return lag_of(q);
  }
  return -1;
}

bool StreamTask::ready_to_process(TimestampMs now) {
  bool enforced = false;
  return ready(now, &enforced);
}

bool StreamTask::ready(TimestampMs now, bool* enforced) {
  *enforced = false;
  if (options_.max_task_idle_ms < 0) return has_buffered();
  bool queued = false;
  for (auto& q : queues_) {
    if (!q.records.empty()) {
      q.idle_deadline = -1;
      queued = true;
      continue;
    }
    if (lag_of(q) != 0) {  // unknown, or data on the broker not fetched yet: wait for it
      q.idle_deadline = -1;
      return false;
    }
    if (now < 0) now = clock_.now_ms();
    if (q.idle_deadline < 0) q.idle_deadline = now + options_.max_task_idle_ms;
    if (now < q.idle_deadline) return false;
    *enforced = true;
  }
  return queued;
}

absl::Status StreamTask::run_guarded(const std::function<absl::Status()>& fn, std::string* error_class) {
  pending_error_ = absl::OkStatus();
  error_class->clear();
  absl::Status st;
  try {
    st = fn();
    if (!st.ok()) {
      *error_class = st.code() == absl::StatusCode::kDataLoss ? "DESERIALIZATION" : "PROCESSING";
    } else if (!pending_error_.ok()) {
      st = pending_error_;
      *error_class = "PROCESSING";
    }
  } catch (const ProcessingException& e) {
    st = absl::InternalError(e.what());
    *error_class = e.code();
  } catch (const std::exception& e) {
    st = absl::InternalError(e.what());
    *error_class = "PROCESSING";
  }
  if (!st.ok()) {
    if (auto code = st.GetPayload(kDlqErrorPayload)) *error_class = std::string(*code);
  }
  return st;
}

absl::StatusOr<size_t> StreamTask::process(size_t max_records) {
  KSTREAMS_CHECK(initialized_ && !closed_, "process() on a task that is not running");
  size_t done = 0;
  std::string error_class;
  while (done < max_records) {
    bool enforced = false;
    if (options_.max_task_idle_ms >= 0 && !ready(/*now: from clock_ when needed*/ -1, &enforced)) break;
    if (enforced && enforced_processing_) enforced_processing_->increment();
    PartitionQueue* next = nullptr;
    for (auto& q : queues_) {
      if (q.records.empty()) continue;
      if (!next || q.records.front().timestamp < next->records.front().timestamp) next = &q;
    }
    if (!next) break;
    RawRecord& rec = next->records.front();
    stream_time_ = std::max(stream_time_, rec.timestamp);
    metadata_.topic = next->topic;
    metadata_.partition = next->partition;
    metadata_.offset = rec.offset.value();
    if (state_) state_->set_record_timestamp(rec.timestamp);
    internal::SourceNodeBase* source = next->source;
    absl::Status st;
    const bool quarantined =
        options_.quarantine != nullptr && options_.quarantine->contains(next->topic, next->partition, metadata_.offset);
    if (quarantined) {
      error_class = "PROCESSING_BUDGET";
      st = absl::DeadlineExceededError(
          "the record hung processing past processing.record.budget.ms in an earlier run: not processed again");
    } else {
      if (options_.in_flight) options_.in_flight->begin(next->interned_topic, next->partition, metadata_.offset);
      st = run_guarded([&] { return source->process_raw(rec); }, &error_class);
      if (options_.in_flight) options_.in_flight->end();
    }
    if (quarantined) {
      KSTREAMS_RETURN_IF_ERROR(handle_error(error_class, st, &rec, options_.processing_policy));
      absl::Status removed = options_.quarantine->remove({next->topic, next->partition, metadata_.offset});
      if (!removed.ok()) KS_LOG_WARN("{}{}", log_prefix_, removed.ToString());
    } else if (!st.ok()) {
      const ErrorPolicy policy =
          error_class == "DESERIALIZATION" ? options_.deserialization_policy : options_.processing_policy;
      KSTREAMS_RETURN_IF_ERROR(handle_error(error_class, st, &rec, policy));
    }
    next->next_offset = rec.offset.value() + 1;
    if (process_total_) process_total_->increment();
    if (e2e_latency_) e2e_latency_->observe(static_cast<double>(clock_.now_ms() - rec.timestamp));
    next->records.pop_front();
    ++done;
    // Stream-time punctuators fire as soon as a record moves stream time past their due time, not
    // once per batch: what they emit then depends only on the input, never on how the records
    // happened to be batched (an abort or a restart re-batches them).
    if (stream_punctuation_due()) {
      metadata_ = RecordMetadata{};
      KSTREAMS_RETURN_IF_ERROR(run_punctuators(PunctuationType::kStreamTime, stream_time_));
    }
  }
  metadata_ = RecordMetadata{};
  return done;
}

absl::Status StreamTask::handle_error(const std::string& error_class, const absl::Status& status,
                                      const RawRecord* record, ErrorPolicy policy) {
  const std::string where = record ? record->topic + "-" + std::to_string(record->partition.value()) + "@" +
                                         std::to_string(record->offset.value())
                                   : std::string("punctuation");
  if (policy == ErrorPolicy::kFail) {
    return absl::Status(status.code(),
                        log_prefix_ + error_class + " error at " + where + ": " + std::string(status.message()));
  }
  KS_LOG_WARN("{}{} error at {} (policy {}): {}", log_prefix_, error_class, where, policy_name(policy),
              std::string(status.message()));
  record_dropped(error_class == "DESERIALIZATION" ? "deserialization_error" : "processing_error");
  if (policy == ErrorPolicy::kDeadLetter && record) {
    Headers h = record->headers;
    h.set("dlq.error", error_class);
    h.set("dlq.message", std::string(status.message()));
    h.set("dlq.source.topic", metadata_.topic);
    h.set("dlq.source.partition", std::to_string(metadata_.partition));
    h.set("dlq.source.offset", std::to_string(record->offset.value()));
    collector_->send(options_.dead_letter_topic, record->key, record->value, h, record->timestamp, -1);
    if (dead_lettered_) dead_lettered_->increment();
  }
  return absl::OkStatus();
}

absl::Status StreamTask::punctuate(TimestampMs wall_clock_now) {
  KSTREAMS_RETURN_IF_ERROR(run_punctuators(PunctuationType::kStreamTime, stream_time_));
  return run_punctuators(PunctuationType::kWallClockTime, wall_clock_now);
}

bool StreamTask::stream_punctuation_due() const {
  if (stream_time_ < 0) return false;
  return std::any_of(schedules_.begin(), schedules_.end(), [this](const Schedule& s) {
    return s.type == PunctuationType::kStreamTime && !s.cancelled && s.next <= stream_time_;
  });
}

absl::Status StreamTask::run_punctuators(PunctuationType type, TimestampMs now) {
  if (now < 0) return absl::OkStatus();
  // By index: a punctuator may schedule more punctuators (appended; they run next time).
  const size_t n = schedules_.size();
  std::string error_class;
  for (size_t i = 0; i < n; ++i) {
    if (schedules_[i].type != type || schedules_[i].cancelled) continue;
    if (schedules_[i].next < 0) schedules_[i].next = now;  // stream time became known: due now
    if (schedules_[i].next > now) continue;
    // Next due time: the first interval boundary after `now` (missed intervals fire once).
    const int64_t interval = schedules_[i].interval_ms;
    schedules_[i].next = type == PunctuationType::kStreamTime ? (now / interval + 1) * interval : now + interval;
    Punctuator fn = schedules_[i].fn;  // copy: fn may schedule and reallocate schedules_
    if (state_) state_->set_record_timestamp(now);
    absl::Status st = run_guarded(
        [&] {
          fn(now);
          return absl::OkStatus();
        },
        &error_class);
    if (!st.ok()) KSTREAMS_RETURN_IF_ERROR(handle_error(error_class, st, nullptr, options_.processing_policy));
  }
  std::erase_if(schedules_, [](const Schedule& s) { return s.cancelled; });
  return absl::OkStatus();
}

int64_t StreamTask::schedule(std::chrono::milliseconds interval, PunctuationType type, Punctuator fn) {
  KSTREAMS_CHECK(interval.count() > 0, "punctuation interval must be positive");
  const TimestampMs next = type == PunctuationType::kStreamTime
                               ? (stream_time_ < 0 ? -1 : (stream_time_ / interval.count() + 1) * interval.count())
                               : clock_.now_ms() + interval.count();
  schedules_.push_back(Schedule{next_schedule_id_, interval.count(), type, next, std::move(fn)});
  return next_schedule_id_++;
}

void StreamTask::cancel_punctuator(int64_t id) {
  for (auto& s : schedules_) {
    if (s.id == id) s.cancelled = true;
  }
}

state::StateStore* StreamTask::store(std::string_view name) {
  if (state_) {
    if (auto* s = state_->store(name)) return s;
  }
  if (options_.global_stores) return options_.global_stores(name);
  return nullptr;
}

void StreamTask::send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value,
                      const Headers& headers, TimestampMs timestamp, int32_t partition) {
  collector_->send(topic, std::move(key), std::move(value), headers, timestamp, partition);
}

void StreamTask::fail(absl::Status status) {
  if (pending_error_.ok()) pending_error_ = std::move(status);
}

void StreamTask::record_dropped(std::string_view reason) {
  if (!metrics_) return;
  auto it = dropped_.find(reason);
  if (it == dropped_.end()) {
    Labels labels{{"task", id_.to_string()}, {"thread", options_.thread_name}, {"reason", std::string(reason)}};
    Counter* c = &metrics_->counter("kstreams_task_dropped_records_total", "Records dropped by the task", labels);
    it = dropped_.emplace(std::string(reason), c).first;
  }
  it->second->increment();
}

std::string StreamTask::resolve_topic(const std::string& topic, bool internal) const {
  return TopicName{topic, internal}.full_name(options_.application_id);
}

std::map<std::pair<std::string, int32_t>, int64_t> StreamTask::committable_offsets() const {
  std::map<std::pair<std::string, int32_t>, int64_t> out;
  for (const auto& q : queues_) {
    if (q.next_offset >= 0) out[{q.topic, q.partition}] = q.next_offset;
  }
  return out;
}

absl::Status StreamTask::prepare_commit() {
  for (auto& node : nodes_) node->flush();
  if (state_) state_->flush_changelog();  // after the nodes: their flush may write to stores
  return absl::OkStatus();
}

absl::Status StreamTask::seal_commit() {
  if (state_) KSTREAMS_RETURN_IF_ERROR(state_->seal());
  for (auto& q : queues_) q.sealed_offsets.push_back(q.next_offset);
  TaskProgress sealed = progress_snapshot();
  ++sealed.sequence;
  sealed_progress_.push_back(std::move(sealed));
  ++sealed_;
  commit_requested_ = false;  // a request made from now on is for the next transaction
  return absl::OkStatus();
}

absl::Status StreamTask::post_commit(const std::map<std::string, int64_t>& changelog_next_offsets) {
  if (state_) KSTREAMS_RETURN_IF_ERROR(state_->commit(changelog_next_offsets));
  for (auto& q : queues_) {
    if (sealed_ > 0) {
      q.committed_offset = q.sealed_offsets.front();
      q.sealed_offsets.pop_front();
    } else {
      q.committed_offset = q.next_offset;
    }
  }
  if (sealed_ > 0) {
    committed_progress_ = std::move(sealed_progress_.front());
    sealed_progress_.pop_front();
  } else {
    const int64_t sequence = committed_progress_.sequence + 1;
    committed_progress_ = progress_snapshot();
    committed_progress_.sequence = sequence;
  }
  if (sealed_ == 0) commit_requested_ = false;
  if (sealed_ > 0) --sealed_;
  return absl::OkStatus();
}

void StreamTask::abort() {
  if (state_) state_->abort();
  sealed_ = 0;
  // Stream time, punctuation schedules and the nodes' progress return to the last commit too:
  // the records after it are processed again and must be judged (late, closing windows) as then.
  sealed_progress_.clear();
  apply_progress(committed_progress_);
  drop_buffered_input();  // the caller rewinds the consumer to the committed offsets
}

void StreamTask::suspend() {
  KSTREAMS_CHECK(sealed_ == 0 && (!state_ || !state_->has_uncommitted_writes()),
                 "suspend() of a task with uncommitted work");
  drop_buffered_input();
}

void StreamTask::drop_buffered_input() {
  for (auto& q : queues_) {
    q.sealed_offsets.clear();
    q.records.clear();
    q.next_offset = q.committed_offset;
    q.position = q.committed_offset;
    q.eof_high = -1;
    q.eof_offset = -1;
    q.idle_deadline = -1;
  }
  commit_requested_ = false;
}

std::map<std::pair<std::string, int32_t>, int64_t> StreamTask::committed_offsets() const {
  std::map<std::pair<std::string, int32_t>, int64_t> out;
  for (const auto& q : queues_) out[{q.topic, q.partition}] = q.committed_offset;
  return out;
}

bool StreamTask::close_nodes() {
  if (closed_) return false;
  closed_ = true;
  for (auto& node : nodes_) node->close();
  nodes_.clear();
  return state_ != nullptr;
}

absl::Status StreamTask::close(bool clean) {
  if (!close_nodes()) return absl::OkStatus();
  if (!clean) state_->abort();
  return state_->close();
}

absl::Status StreamTask::close_moved() {
  if (!close_nodes()) return absl::OkStatus();
  return state_->close_keeping_last_flush();
}

}  // namespace kstreams::runtime
