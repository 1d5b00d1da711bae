// StreamTask: one (subtopology, partition) of a topology. It owns the task's processor nodes and
// its ProcessorStateManager, buffers input records per partition, and runs them through the nodes
// lowest-timestamp-first. The Kafka runtime (StreamThread) and the TopologyTestDriver drive the same
// class, in this order:
//
//   StreamTask task(id, topology, subtopology, std::move(state_manager), collector, clock, metrics, options);
//   KSTREAMS_RETURN_IF_ERROR(task.initialize());        // creates and inits the nodes (once)
//   task.restore_progress(metadata of the committed offsets of its input partitions);
//   loop:
//     task.add_records(topic, partition, std::move(batch));   // full topic names, as polled
//     task.process(max_records);                               // non-ok only under the `fail` policy
//     task.punctuate(clock.now_ms());                          // due stream-time and wall-clock punctuators
//     on commit (every commit.interval.ms, or when commit_requested()):
//       task.prepare_commit();                                 // nodes flush buffered results to the collector
//       task.seal_commit();                                    // optional: see below
//       producer: send_offsets_to_transaction(task.committable_offsets(), each with
//                 task.commit_metadata()), commit_transaction
//       task.post_commit(changelog next offsets per store);   // state->commit(...)
//     on an aborted transaction: task.abort(); rewind the consumer to the committed offsets
//   task.close(clean);
//
// Progress (task_progress.h): stream time, stream-time punctuation schedules and the nodes'
// TaskContext::progress() values are task state like the stores: committed with the offsets
// (commit_metadata()), rolled back by abort(), restored by restore_progress() when the task opens.
//
// Time: stream time = max record timestamp processed. Among its partitions the task always takes the
// head record with the lowest timestamp (Kafka Streams' PartitionGroup).
//
// Waiting for empty partitions (max.task.idle.ms, Kafka Streams' KIP-695 semantics): the task is
// ready to process when every input partition has buffered records. An empty partition holds it
// back while the partition's lag (consumer end offset minus the position the task has seen) is
// unknown or positive: the data is on the broker and on its way. An empty partition with lag 0
// holds it back for max_task_idle_ms more (0: not at all), then the task processes without it
// ("enforced processing", counted). max_task_idle_ms = -1 never waits (the TopologyTestDriver's
// behaviour and TaskOptions' default). A task with no buffered record is never ready. Waiting
// only makes process() return 0: the caller's loop (other tasks, punctuation, commits) goes on.
// The position of a partition is known from the last record added (offset + 1) or from
// end_of_partition() (the consumer's PARTITION_EOF); the end offset comes from
// TaskOptions::watermarks (the consumer's cached watermarks, updated by every fetch response).
// Lag 0 also when the log is empty (low == high) or when the partition reached its end
// (end_of_partition) and nothing arrived since. What "nothing since" means depends on the
// consumer's isolation level (TaskOptions::read_committed):
//   read_uncommitted: the end is the high watermark; a higher high watermark afterwards is new
//     data on the broker: wait for it.
//   read_committed: the end is the last stable offset (LSO), which the high watermark overstates
//     by transaction markers and by every open transaction, the thread's own included (a task
//     that reads a topic its own thread writes, like a saga's results, would otherwise wait for
//     its thread's next commit). The partition stays at lag 0 until records past the end arrive
//     (then its lag is unknown until the consumer reports the new end), as Kafka Streams' lag
//     from the fetched LSO.
//
// Errors: a record that cannot be deserialized, or whose processing throws or makes a built-in
// processor fail, goes to the policy of TaskOptions: kContinue (log, count, skip), kFail (process()
// returns the error; the record is not marked consumed) or kDeadLetter (default: the original bytes
// go to the dead-letter topic with dlq.* headers, and processing goes on). A record in
// TaskOptions::quarantine (it hung the thread past processing.record.budget.ms before) goes to the
// processing policy as error class PROCESSING_BUDGET without being processed.
//
// Metrics (labels task, thread): kstreams_task_process_total, kstreams_task_dropped_records_total
// {reason}, kstreams_task_dead_lettered_records_total, kstreams_task_e2e_latency_ms (wall clock at
// processing minus record timestamp), kstreams_task_enforced_processing_total (records processed
// while some input partition was empty and no longer waited for; Kafka Streams' enforced-processing).
//
// Ownership: the task owns its nodes and state manager; topology, collector, clock and metrics are
// borrowed and must outlive it. Thread-safety: one stream thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kstreams/common/clock.h"
#include "kstreams/common/metrics.h"
#include "kstreams/state/state_manager.h"
#include "kstreams/topology/internal/task_context.h"
#include "kstreams/topology/topology.h"
#include "quarantine.h"
#include "record_collector.h"
#include "record_watch.h"
#include "task_progress.h"

namespace kstreams::runtime {

enum class ErrorPolicy { kContinue, kFail, kDeadLetter };

struct TaskOptions {
  std::string application_id;
  std::string thread_name;  // for log lines and metric labels
  ErrorPolicy deserialization_policy = ErrorPolicy::kDeadLetter;
  ErrorPolicy processing_policy = ErrorPolicy::kDeadLetter;
  std::string dead_letter_topic;  // empty: "<application.id>-dead-letters"
  // Global stores (GlobalKTable) by name; may be empty when the topology has none.
  std::function<state::StateStore*(std::string_view)> global_stores;
  // max.task.idle.ms (see above): -1 never waits for empty partitions, >= 0 needs `watermarks`.
  int64_t max_task_idle_ms = -1;
  // The consumer's cached (low, high) watermark offsets of an input partition (full topic name);
  // high < 0 when not known yet. Called on the task's thread, only while a partition is empty.
  std::function<std::pair<int64_t, int64_t>(const std::string& topic, int32_t partition)> watermarks;
  // The consumer reads with isolation.level=read_committed: end_of_partition() reports the last
  // stable offset, and the high watermark past it may be uncommitted data (see above).
  bool read_committed = false;
  // processing.record.budget.ms (record_watch.h, quarantine.h); both may be null (no budget):
  // the record being processed, published for the watchdog (owned by the thread), and the records
  // that exceeded the budget in an earlier run: they go to the processing policy as
  // PROCESSING_BUDGET errors instead of being processed (owned by the instance).
  InFlightRecord* in_flight = nullptr;
  Quarantine* quarantine = nullptr;
};

class StreamTask final : private internal::TaskContext {
 public:
  StreamTask(TaskId id, const Topology& topology, int32_t subtopology,
             std::unique_ptr<state::ProcessorStateManager> state, RecordCollector* collector, const Clock& clock,
             MetricsRegistry* metrics, TaskOptions options);
  ~StreamTask() override;

  // Creates the nodes of the subtopology and calls their init(). Call once before anything else.
  [[nodiscard]] absl::Status initialize();

  // Buffers records of one input partition (topic: full name). Offsets must increase.
  void add_records(const std::string& topic, int32_t partition, std::vector<RawRecord>&& records);
  // Processes up to max_records buffered records, lowest timestamp first. Returns how many.
  [[nodiscard]] absl::StatusOr<size_t> process(size_t max_records);
  [[nodiscard]] size_t buffered(const std::string& topic, int32_t partition) const;
  [[nodiscard]] bool has_buffered() const;
  // The consumer reached the end of an input partition: it is at `offset` (PARTITION_EOF).
  void end_of_partition(const std::string& topic, int32_t partition, int64_t offset);
  // Whether process() would process a record now (max.task.idle.ms, see above). Starts the idle
  // timer of an empty partition with lag 0 (wall clock `now`).
  [[nodiscard]] bool ready_to_process(TimestampMs now);
  // The lag of an input partition as the task knows it: -1 unknown (see above).
  [[nodiscard]] int64_t partition_lag(const std::string& topic, int32_t partition) const;

  // Runs the stream-time punctuators due at the current stream time and the wall-clock ones due at
  // `wall_clock_now`. Errors follow the processing policy (dead letters have no source record).
  // (process() already runs stream-time punctuators right after the record that makes them due.)
  [[nodiscard]] absl::Status punctuate(TimestampMs wall_clock_now);

  // Next offset to read per consumed input partition (last processed + 1).
  [[nodiscard]] std::map<std::pair<std::string, int32_t>, int64_t> committable_offsets() const;
  // The metadata to commit with every offset of committable_offsets(): the progress of the newest
  // sealed transaction (else of everything processed so far). At most kMaxCommitMetadataBytes.
  [[nodiscard]] std::string commit_metadata() const;
  // After initialize(), before the first record: takes the newest progress among the committed
  // offsets' metadata of the task's partitions (entries that are not progress are ignored). A task
  // with none starts from scratch. Returns whether any was found.
  bool restore_progress(const std::vector<std::string>& committed_metadata);
  // The progress as of now (tests and diagnostics).
  [[nodiscard]] TaskProgress progress_snapshot() const;
  // Commit phase 1 (before the Kafka commit): nodes flush what they buffer to the collector.
  [[nodiscard]] absl::Status prepare_commit();
  // Commit phase 1b (optional, right after prepare_commit): seals the store writes and input
  // offsets so far as a transaction being committed (ProcessorStateManager::seal). The task may
  // then go on processing: what follows belongs to the next transaction, and post_commit()
  // commits only the oldest sealed transaction. At most two are sealed at once (the next one may
  // be sealed before the last one's post_commit). Without seal_commit(), post_commit() commits
  // everything.
  [[nodiscard]] absl::Status seal_commit();
  // Commit phase 3 (after the Kafka commit): the oldest sealed transaction's store writes become
  // durable with its changelog offsets (store -> next offset as of the end of that transaction).
  [[nodiscard]] absl::Status post_commit(const std::map<std::string, int64_t>& changelog_next_offsets);
  // The transaction aborted: drop uncommitted (and sealed) store writes and buffered records;
  // offsets return to the last commit (the caller rewinds the consumer).
  void abort();
  // A rebalance revoked the task right after it committed everything: it stays open (stores, nodes,
  // progress) in case the new assignment gives it back, but drops its buffered input, which the
  // consumer delivers again from the committed offsets if it does. Requires nothing uncommitted.
  void suspend();
  // The committed input offsets the task holds (next offset to read per partition; -1 unknown).
  [[nodiscard]] std::map<std::pair<std::string, int32_t>, int64_t> committed_offsets() const;
  // Closes nodes and stores. Not clean: uncommitted writes are dropped.
  [[nodiscard]] absl::Status close(bool clean);
  // Closes a suspended task the new assignment gave to someone else: nothing is uncommitted, and
  // the stores are not flushed (ProcessorStateManager::close_keeping_last_flush): waiting for
  // RocksDB to flush every store of every moved task held up the tasks that stayed for seconds.
  [[nodiscard]] absl::Status close_moved();

  [[nodiscard]] bool commit_requested() const { return commit_requested_; }
  // Transactions sealed (seal_commit) and not yet post-committed or aborted: 0, 1 or 2.
  [[nodiscard]] size_t sealed() const { return sealed_; }
  [[nodiscard]] TaskId id() const { return id_; }
  [[nodiscard]] TimestampMs current_stream_time() const { return stream_time_; }
  [[nodiscard]] state::ProcessorStateManager* state_manager() { return state_.get(); }
  // The input partitions (full topic names) this task reads.
  [[nodiscard]] std::vector<std::string> source_topics() const;

 private:
  // Closes the nodes once; true when there are stores left to close.
  bool close_nodes();
  struct PartitionQueue {
    std::string topic;
    const std::string* interned_topic = nullptr;  // InFlightRecord::intern(topic)
    int32_t partition = 0;
    std::deque<RawRecord> records;
    int64_t next_offset = -1;
    int64_t committed_offset = -1;
    std::deque<int64_t> sealed_offsets;  // next_offset at each seal_commit() not yet committed, oldest first
    internal::SourceNodeBase* source = nullptr;
    int64_t position = -1;           // next offset the consumer delivers; -1 unknown
    int64_t eof_high = -1;           // high watermark when the consumer reported the end; -1: not at the end
    int64_t eof_offset = -1;         // the end the consumer reported (read_committed: the LSO); -1: not at the end
    TimestampMs idle_deadline = -1;  // empty with lag 0: processes without it from then on
  };
  struct Schedule {
    int64_t id;
    int64_t interval_ms;
    PunctuationType type;
    TimestampMs next;  // -1: stream time not known yet
    Punctuator fn;
    bool cancelled = false;
  };

  // TaskContext (what nodes see).
  [[nodiscard]] TaskId task_id() const override { return id_; }
  [[nodiscard]] const std::string& application_id() const override { return options_.application_id; }
  [[nodiscard]] const RecordMetadata& record_metadata() const override { return metadata_; }
  [[nodiscard]] TimestampMs stream_time() const override { return stream_time_; }
  [[nodiscard]] TimestampMs wall_clock_ms() const override { return clock_.now_ms(); }
  [[nodiscard]] state::StateStore* store(std::string_view name) override;
  int64_t schedule(std::chrono::milliseconds interval, PunctuationType type, Punctuator fn) override;
  void cancel_punctuator(int64_t id) override;
  void request_commit() override { commit_requested_ = true; }
  void send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value,
            const Headers& headers, TimestampMs timestamp, int32_t partition) override;
  void fail(absl::Status status) override;
  void record_dropped(std::string_view reason) override;
  [[nodiscard]] std::string resolve_topic(const std::string& topic, bool internal) const override;
  int64_t* progress(const std::string& key, int64_t initial) override;

  void apply_progress(const TaskProgress& p);

  PartitionQueue* queue_for(const std::string& topic, int32_t partition);
  [[nodiscard]] int64_t lag_of(const PartitionQueue& q) const;
  // ready_to_process(); now < 0: clock_ (read only when a partition is empty); *enforced: ready
  // although some partition is empty.
  [[nodiscard]] bool ready(TimestampMs now, bool* enforced);
  // Runs fn (a record or a punctuation) and classifies what went wrong: "" when nothing did.
  absl::Status run_guarded(const std::function<absl::Status()>& fn, std::string* error_class);
  [[nodiscard]] absl::Status handle_error(const std::string& error_class, const absl::Status& status,
                                          const RawRecord* record, ErrorPolicy policy);
  [[nodiscard]] absl::Status run_punctuators(PunctuationType type, TimestampMs now);
  // Buffered input goes; every partition is back at its committed offset (abort, suspend).
  void drop_buffered_input();
  // A stream-time punctuator is due at the current stream time (unknown next: due as soon as known).
  [[nodiscard]] bool stream_punctuation_due() const;

  TaskId id_;
  const Topology& topology_;
  int32_t subtopology_;
  std::unique_ptr<state::ProcessorStateManager> state_;
  RecordCollector* collector_;
  const Clock& clock_;
  MetricsRegistry* metrics_;
  TaskOptions options_;
  std::string log_prefix_;

  std::vector<std::unique_ptr<internal::NodeBase>> nodes_;
  std::vector<PartitionQueue> queues_;
  std::vector<Schedule> schedules_;
  int64_t next_schedule_id_ = 0;
  TimestampMs stream_time_ = kNoTimestamp;
  RecordMetadata metadata_;
  absl::Status pending_error_;
  bool commit_requested_ = false;
  size_t sealed_ = 0;  // seal_commit()s not yet ended by their post_commit() (or by abort())
  std::map<std::string, int64_t, std::less<>> progress_;  // TaskContext::progress() values (stable addresses)
  TaskProgress committed_progress_;                       // as of the last post_commit() (or restore)
  std::deque<TaskProgress> sealed_progress_;              // one per seal_commit(), oldest first
  bool initialized_ = false;
  bool closed_ = false;

  Counter* process_total_ = nullptr;
  Counter* dead_lettered_ = nullptr;
  Histogram* e2e_latency_ = nullptr;
  Counter* enforced_processing_ = nullptr;
  std::map<std::string, Counter*, std::less<>> dropped_;
};

}  // namespace kstreams::runtime
