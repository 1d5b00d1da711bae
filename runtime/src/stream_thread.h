// StreamThread: one consumer (group member), one producer (transactional under exactly_once_v2)
// and the tasks of the partitions assigned to it. Its loop: poll, route records to tasks, restore a
// bounded batch of changelog records for the tasks still restoring, process lowest-timestamp-first,
// punctuate, commit; rebalances create and close tasks.
//
// Restoration (as Kafka Streams' StoreChangelogReader): a newly assigned task whose logged stores
// are behind their changelogs starts RESTORING: its input partitions are paused, its changelog
// partitions join the one restore consumer (assigned to all changelog partitions of all restoring
// tasks at once, so librdkafka fetches them in parallel), and every loop iteration applies at most
// restore.batch.records of them. A changelog is restored when the read_committed restore consumer
// reports PARTITION_EOF (the last stable offset: trailing transaction markers and aborted records
// included) or its position reaches the end offset measured at assignment. Then the task is
// initialized, its inputs resumed and it processes (RUNNING). Running tasks keep processing,
// punctuating and answering queries meanwhile; the thread is PARTITIONS_ASSIGNED (the instance
// REBALANCING) until no task restores.
//
// Errors (the one catch site, ARCHITECTURE.md "Errors"):
//   retriable (kUnavailable)         -> retry the call with backoff
//   transaction abortable (kAborted) -> abort, rewind every partition to its committed offset,
//                                       drop uncommitted state, go on ("task corrupted")
//   fenced / fatal producer          -> close tasks dirty, new producer and consumer, rejoin
//                                       ("task migrated")
//   anything else                    -> the thread stops in ERROR and reports it (fatal)
//
// Thread-safety: run() executes on the thread's own std::thread; the public methods other than
// run() are safe to call from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fetch_queue_watch.h"
#include "kafka_producer.h"
#include "kstreams/common/clock.h"
#include "kstreams/common/metrics.h"
#include "kstreams/runtime/kafka_streams.h"
#include "kstreams/runtime/streams_config.h"
#include "kstreams/state/state_manager.h"
#include "kstreams/topology/topology.h"
#include "mailbox.h"
#include "partition_reader.h"
#include "quarantine.h"
#include "rdkafka_util.h"
#include "record_watch.h"

namespace kstreams::runtime {

class StreamTask;
class TaskCollector;
class GlobalStateTask;

// A record sent while a pipelined commit is in flight (commit.pipelined): kept until the commit
// returned, then sent into the next transaction by its collector.
struct DeferredSend {
  TaskCollector* collector;
  bool changelog;  // a store's changelog record (never skipped) rather than task output
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;
  Headers headers;
  TimestampMs timestamp;
  int32_t partition;
};
struct DeferredSends {
  bool active = false;  // a commit is in flight: collectors append here instead of sending
  std::vector<DeferredSend> entries;
  size_t bytes = 0;  // keys and values of `entries` (commit.pipelined.max.buffered.bytes)
  void clear() {
    entries.clear();
    bytes = 0;
  }
};

// The helper thread of a pipelined commit: runs one job at a time (the producer's flush and
// commit_transaction) while the stream thread goes on processing. start() and wait() are called by
// the stream thread only; done() from anywhere.
class CommitWorker {
 public:
  // `name`: the thread's name in top -H; `on_done` runs on the worker after each job (it wakes the
  // stream thread's consumer poll).
  CommitWorker(std::string name, std::function<void()> on_done);
  ~CommitWorker();
  CommitWorker(const CommitWorker&) = delete;
  CommitWorker& operator=(const CommitWorker&) = delete;

  // Precondition: no job running (wait() returned since the last start()).
  void start(std::function<absl::Status()> job);
  [[nodiscard]] bool done() const { return done_.load(std::memory_order_acquire); }
  // Blocks until the job finished; its result.
  [[nodiscard]] absl::Status wait();

 private:
  void loop();
  std::function<void()> on_done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<absl::Status()> job_;
  absl::Status result_;
  bool stop_ = false;
  std::atomic<bool> done_{true};
  std::thread thread_;
};

enum class ThreadState {
  kCreated,
  kStarting,
  kPartitionsRevoked,
  kPartitionsAssigned,
  kRunning,
  kPendingShutdown,
  kDead
};

struct ThreadContext {
  const Topology* topology = nullptr;
  const StreamsConfig* config = nullptr;
  state::StateDirectory* state_directory = nullptr;
  state::StoreResources* store_resources = nullptr;
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;
  std::string process_id;  // stable per instance (transactional.id and client.id)
  // Source topics (full names) the group subscribes to.
  std::vector<std::string> source_topics;
  // Called after the thread's assignment changed (for the instance directory).
  std::function<void()> on_assignment_changed;
  // Restoration progress callbacks (may be null); called on this thread.
  std::shared_ptr<RestoreListener> restore_listener;
  // Records that exceeded processing.record.budget.ms in an earlier run (may be null); owned by the
  // instance, shared by its threads.
  Quarantine* quarantine = nullptr;
};

class StreamThread {
 public:
  StreamThread(int index, ThreadContext context);
  ~StreamThread();

  void start();
  // Asks the loop to commit, close its tasks and leave the group; join() waits for it. With a
  // deadline, every broker call of the shutdown (and a commit in flight) ends by then: what could
  // not be committed is aborted (by the transaction timeout if the broker is gone), the tasks close
  // dirty and the group is left by session timeout. The thread is dead shortly after the deadline.
  void shutdown(std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());
  void join();

  [[nodiscard]] ThreadState state() const { return state_.load(); }
  // True while the thread backs off from a retriable error (kstreams_thread_degraded); the reason.
  [[nodiscard]] bool degraded() const { return degraded_.load(); }
  [[nodiscard]] std::string degraded_reason() const;
  // The record this thread is processing (for the processing.record.budget.ms watchdog; any thread).
  [[nodiscard]] const InFlightRecord& in_flight() const { return in_flight_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  // Non-ok once the thread died of a fatal error.
  [[nodiscard]] absl::Status error() const;

  // Runs `fn` on the stream thread between records (for interactive queries) and waits for it.
  // kUnavailable when the thread does not answer within `timeout`.
  [[nodiscard]] absl::Status run_on_thread(const std::function<void()>& fn, std::chrono::milliseconds timeout);

  // Tasks and partitions currently owned, and which tasks are restoring (thread-safe snapshots).
  [[nodiscard]] std::vector<TaskId> active_tasks() const;
  [[nodiscard]] std::vector<TaskId> restoring_tasks() const;
  [[nodiscard]] std::vector<std::pair<std::string, int32_t>> assigned_partitions() const;

  // The task holding `id` (running tasks only), for use on the stream thread only.
  [[nodiscard]] StreamTask* task(TaskId id);
  // The stores of task `id`, running or restoring (a restoring task's stores hold what was restored
  // so far), for store reads on the stream thread only (inside run_on_thread); null if not owned.
  [[nodiscard]] state::ProcessorStateManager* state_manager(TaskId id);
  // A global store of this thread's copy (stream thread only, inside run_on_thread).
  [[nodiscard]] state::StateStore* global_store(std::string_view name);

 private:
  void run();
  [[nodiscard]] absl::Status run_once();
  [[nodiscard]] absl::Status create_clients();
  [[nodiscard]] absl::Status poll_and_route(std::chrono::milliseconds timeout);
  [[nodiscard]] absl::Status process_tasks(size_t* processed);
  // A PARTITION_EOF event: the owning task learns the partition's position (max.task.idle.ms).
  void end_of_partition(const rd_kafka_message_t* msg);
  // End of a loop round: finishes a pipelined commit that returned, starts the next commit if one
  // is due, then applies the returned one (held_).
  [[nodiscard]] absl::Status maybe_commit();
  // The commit decision (commit.interval.ms, commit.when.idle, requests) and the commit it starts.
  [[nodiscard]] absl::Status start_commit_if_due();
  // Synchronous commit of everything processed (a pipelined commit in flight is finished first).
  [[nodiscard]] absl::Status commit_all();
  // Commit phase "prepare" of every task (nodes and changelog cache flush, seal): the offsets to
  // commit and the tasks sealed.
  [[nodiscard]] absl::Status prepare_tasks(CommitOffsets* offsets, std::vector<TaskId>* sealed);
  // Commit phase "stores": the oldest sealed writes of `tasks` become durable with the changelog
  // positions `changelog` (as of the end of their transaction). A failure sets stores_diverged_
  // and comes back as kFailedPrecondition: the tasks close dirty and restore.
  [[nodiscard]] absl::Status post_commit_tasks(const std::vector<TaskId>& tasks,
                                               const std::map<TopicPartitionKey, int64_t>& changelog);
  // commit.pipelined: prepares and seals the tasks, then hands flush + commit to the CommitWorker.
  [[nodiscard]] absl::Status begin_pipelined_commit();
  // A pipelined commit that returned and whose store writes wait to be applied (maybe_commit starts
  // the next transaction first: the stores apply this one while the next one flushes).
  struct CommittedTransaction {
    std::vector<TaskId> tasks;
    std::map<TopicPartitionKey, int64_t> changelog_offsets;
    int64_t start_ns = 0;
  };
  // The pipelined commit in flight, if any (and, when !wait, only if it has returned): observes its
  // phases; on success applies the sealed store writes (or, with `hold`, keeps the transaction in
  // held_ for post_held()) and (replay) sends the deferred records into the next transaction, else
  // drops them and returns the commit's error. Without replay the deferred records are dropped (the
  // caller aborts the next transaction).
  [[nodiscard]] absl::Status finish_pipelined_commit(bool wait, bool replay = true, bool hold = false);
  // Phase "stores" of held_, if any: every path that seals, commits or aborts calls it first.
  [[nodiscard]] absl::Status post_held();
  // Phase "stores" of a pipelined commit that returned, and its metrics.
  [[nodiscard]] absl::Status post_committed(const CommittedTransaction& committed);
  // Waits for a commit in flight and forgets it and the deferred records (dirty close paths).
  void discard_pipelined_commit();
  [[nodiscard]] absl::Status handle_commit_error(absl::Status st);
  [[nodiscard]] absl::Status rewind_to_committed();
  void drain_mailbox();
  // Global stores: each thread keeps its own copy, bootstrapped from the beginning of the global
  // topics at start and then kept current between records (single-threaded reads, no locking).
  [[nodiscard]] absl::Status init_global();
  [[nodiscard]] absl::Status poll_global(int timeout_ms, bool* at_end);
  void update_pauses();
  // librdkafka 2.0 stops fetching once a consumer's prefetch queue reaches queued.min.messages or
  // queued.max.messages.kbytes and only re-checks on its broker thread's next wake-up (up to a
  // second later; 2.1 added fetch.queue.backoff.ms for it). The polling code notes a full queue
  // (FetchQueueWatch); once it has drained half of it, this wakes the fetcher of `consumer` with a
  // request about `topic`/`partition` (see the definition).
  void kick_stalled_fetcher(rd_kafka_t* consumer, const std::string& topic, int32_t partition);
  const std::pair<std::string, int32_t>* partition_behind();
  // High watermark (as of the last fetch response) minus the consumed position; -1 when unknown.
  [[nodiscard]] int64_t cached_lag(const std::pair<std::string, int32_t>& tp) const;
  void record_lag();

  // Rebalance handling (called from the librdkafka rebalance callback on this thread).
  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque);
  void on_partitions_revoked(bool lost);
  void on_partitions_assigned(rd_kafka_topic_partition_list_t* parts);
  // Opens the task's stores; the task runs at once when nothing is left to restore, else it joins
  // restoring_ with its inputs paused.
  [[nodiscard]] absl::Status create_task(TaskId id, const std::vector<std::pair<std::string, int32_t>>& inputs);
  // Gives a new task the progress committed with its inputs' offsets (task_progress.h).
  [[nodiscard]] absl::Status restore_progress(StreamTask* task,
                                              const std::vector<std::pair<std::string, int32_t>>& inputs);
  // Initializes a task whose stores are current and makes it process.
  [[nodiscard]] absl::Status start_task(TaskId id, std::unique_ptr<TaskCollector> collector,
                                        std::unique_ptr<state::ProcessorStateManager> manager,
                                        const std::vector<std::pair<std::string, int32_t>>& inputs);
  // One bounded restoration step (at most restore.batch.records records); waits up to `wait` for data.
  [[nodiscard]] absl::Status restore_step(std::chrono::milliseconds wait);
  // Finishes restored tasks: restore-end callbacks, start_task(), resume their inputs.
  [[nodiscard]] absl::Status complete_restored();
  // Assigns the restore consumer to every changelog partition still restoring, at its next offset.
  [[nodiscard]] absl::Status assign_restore_consumer();
  void pause_inputs(const std::vector<std::pair<std::string, int32_t>>& tps, bool pause);
  void publish_snapshot();
  void close_all_tasks(bool clean);
  // Revocation after a successful commit: the running tasks stay open in suspended_ until the
  // assignment that follows says whether they come back (resume_task) or go (close_suspended).
  void suspend_all_tasks();
  // Whether the suspended task `id` could take its inputs back: no one committed them since.
  [[nodiscard]] bool resume_task(TaskId id, const std::vector<std::pair<std::string, int32_t>>& inputs);
  // `moved`: the new assignment gave them to someone else (StreamTask::close_moved: no flush).
  void close_suspended(bool clean, bool moved);
  // Tasks whose creation hit a retriable error (their directory still locked by another thread or
  // process, a broker round trip that timed out): their inputs stay paused and creation is retried
  // with backoff from the loop, never a shutdown.
  void defer_task(TaskId id, const std::vector<std::pair<std::string, int32_t>>& inputs, const absl::Status& why);
  [[nodiscard]] absl::Status retry_deferred_tasks();
  // create_clients(), retried with backoff while it fails with kUnavailable (init_transactions
  // timing out while the broker is away), until it succeeds, fails otherwise, or shutdown.
  [[nodiscard]] absl::Status create_clients_retrying();
  void set_degraded(const absl::Status& why);  // ok: recovered
  void backoff_while_degraded();
  // Seeks the consumer to the committed offsets of `inputs` (auto.offset.reset where none).
  [[nodiscard]] absl::Status seek_to_committed(const std::vector<std::pair<std::string, int32_t>>& inputs);
  void set_state(ThreadState s);

  const int index_;
  const std::string name_;
  ThreadContext ctx_;
  std::atomic<ThreadState> state_{ThreadState::kCreated};
  std::atomic<bool> shutdown_requested_{false};
  // steady_clock ns; INT64_MAX: none. The producer's blocking calls honour it (set_deadline).
  std::atomic<int64_t> shutdown_deadline_ns_{std::numeric_limits<int64_t>::max()};
  std::thread thread_;
  mutable std::mutex mu_;  // guards error_ and the snapshots
  absl::Status error_;

  rdk::Handle consumer_;
  rdk::Queue consumer_queue_;  // the consumer's queue (its length only)
  FetchQueueWatch main_fetch_;
  FetchQueueWatch restore_fetch_;
  bool consumer_drained_ = true;   // the last poll emptied the consumer's queue
  bool read_committed_ = true;     // the consumer's isolation.level (what its partition ends mean)
  uint64_t assignment_epoch_ = 0;  // bumped by every rebalance callback (they run inside consumer polls)
  int64_t last_fetch_check_ms_ = 0;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<PartitionReader> restore_consumer_;  // no group (partition_reader.h)
  std::unique_ptr<PartitionReader> global_consumer_;
  std::unique_ptr<GlobalStateTask> global_;
  std::set<std::pair<std::string, int32_t>> global_at_end_;
  size_t global_partitions_ = 0;

  // statestore.cache.max.bytes / num.stream.threads, shared by this thread's tasks (declared before
  // them: their state managers use it until they close).
  std::unique_ptr<state::ChangelogCache> changelog_cache_;
  struct TaskEntry {
    std::unique_ptr<TaskCollector> collector;
    std::unique_ptr<StreamTask> task;
    std::vector<std::pair<std::string, int32_t>> inputs;
  };
  std::map<TaskId, TaskEntry> tasks_;
  std::map<TaskId, TaskEntry> suspended_;  // revoked, committed, kept open for the next assignment
  std::map<TaskId, std::vector<std::pair<std::string, int32_t>>> deferred_tasks_;  // creation retried later
  int64_t deferred_retry_ms_ = 0;                                                  // next retry (wall clock)
  int64_t deferred_backoff_ms_ = 0;
  // A logged store of a restoring task and its changelog partition.
  struct ChangelogRestore {
    std::string store;
    std::string topic;
    int32_t partition = 0;
    int64_t start = 0;    // first offset to read
    int64_t end = 0;      // high watermark when the task was assigned
    int64_t next = 0;     // next offset to apply to the store
    int64_t fetched = 0;  // next offset to take from the restore consumer (pending holds the rest)
    int64_t restored = 0;
    bool eof = false;  // the restore consumer reached the partition's end (PARTITION_EOF)
    bool done = false;
    // Taken from the restore consumer, not yet applied: the consumer's queue is shared by all
    // changelog partitions, so it is drained beyond one batch to see every partition's EOF (a task
    // with nothing but a transaction marker left must not wait behind a large changelog).
    std::vector<RawRecord> pending;
    std::chrono::steady_clock::time_point started;
  };
  struct RestoringTask {
    std::unique_ptr<TaskCollector> collector;
    std::unique_ptr<state::ProcessorStateManager> manager;
    std::vector<std::pair<std::string, int32_t>> inputs;
    std::vector<ChangelogRestore> changelogs;
    // Input records delivered before the pause took effect (handed to the task when it runs).
    std::map<std::pair<std::string, int32_t>, std::vector<RawRecord>> early;
  };
  std::map<TaskId, RestoringTask> restoring_;
  std::map<std::pair<std::string, int32_t>, TaskId> restoring_inputs_;
  std::map<std::pair<std::string, int32_t>, std::pair<TaskId, size_t>> changelog_owner_;
  // Restoration accounting of the current busy period (first task restoring -> none left).
  std::chrono::steady_clock::time_point restore_period_start_;
  int64_t restore_period_records_ = 0;
  size_t restore_period_tasks_ = 0;
  int64_t next_restore_ms_ = 0;  // restore.throttle.ms (test aid)
  std::map<std::pair<std::string, int32_t>, TaskId> partition_to_task_;
  std::set<std::pair<std::string, int32_t>> paused_;
  std::vector<TaskId> snapshot_tasks_;
  std::vector<TaskId> snapshot_restoring_;
  std::vector<std::pair<std::string, int32_t>> snapshot_partitions_;

  Mailbox mailbox_;  // queries run on this thread (run_on_thread)

  // commit.pipelined: the records sent while a commit is in flight, and the commit itself.
  DeferredSends deferred_;
  bool deferred_full_ = false;  // processing waits for the commit in flight (back-pressure)
  // Retriable trouble (broker away): the loop backs off and retries, reporting itself degraded.
  InFlightRecord in_flight_;
  std::atomic<bool> degraded_{false};
  std::string degraded_reason_;  // guarded by mu_
  int64_t degraded_backoff_ms_ = 0;
  bool rewind_pending_ = false;  // aborted, consumer not rewound yet: process nothing until it is
  struct InFlightCommit {
    bool active = false;
    int64_t start_ns = 0;       // monotonic, when prepare began
    std::vector<TaskId> tasks;  // the tasks sealed for it
    // Written by the worker, read after wait(): the phases, and the changelog positions as of the
    // end of this transaction (the producer's map moves on with the next one).
    int64_t flush_ns = 0;
    KafkaProducer::CommitTimings timings;
    std::map<TopicPartitionKey, int64_t> changelog_offsets;
  };
  InFlightCommit inflight_;
  // A post_commit_tasks() failed: a committed transaction's writes are missing from the stores and
  // its sealed layer is still the oldest, so no later one may be applied. The tasks close dirty and
  // restore from their changelogs (run() rejoins); set until the tasks are closed.
  bool stores_diverged_ = false;
  // A pipelined commit that returned and whose store writes are not applied yet: maybe_commit()
  // starts the next commit first, then applies it (between them, only processing and polling).
  std::optional<CommittedTransaction> held_;
  // Declared after producer_ and the consumer: destroyed (joined) before them.
  std::unique_ptr<CommitWorker> committer_;

  int64_t last_commit_ms_ = 0;
  bool uncommitted_ = false;
  bool commit_requested_ = false;
  int64_t last_lag_ms_ = 0;

  // Metrics (handles live as long as the registry).
  Counter* processed_total_ = nullptr;
  Counter* commits_total_ = nullptr;
  Counter* aborts_total_ = nullptr;
  Counter* rebalances_total_ = nullptr;
  Histogram* commit_latency_ = nullptr;
  // Per phase of commit_all(): prepare, flush, offsets, end, stores.
  Histogram* commit_phase_[5] = {};
  Gauge* lag_ = nullptr;
  Gauge* restore_remaining_ = nullptr;
  Counter* restored_total_ = nullptr;
  Counter* production_errors_ = nullptr;
  Counter* fetcher_kicks_ = nullptr;
  Counter* commit_backpressure_ = nullptr;
  Gauge* degraded_gauge_ = nullptr;
  Counter* retriable_errors_ = nullptr;
};

}  // namespace kstreams::runtime
