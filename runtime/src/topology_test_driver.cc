#include "kstreams/runtime/topology_test_driver.h"

#include <cstdlib>
#include <filesystem>
#include <set>

#include "global_state_task.h"
#include "kstreams/common/clock.h"
#include "kstreams/common/partitioner.h"
#include "stream_task.h"

namespace kstreams {

using runtime::ErrorPolicy;
using runtime::GlobalStateTask;
using runtime::RecordCollector;
using runtime::StreamTask;
using runtime::TaskOptions;

namespace {

ErrorPolicy parse_policy(const std::map<std::string, std::string>& config, const std::string& key) {
  auto it = config.find(key);
  if (it == config.end() || it->second == "dead-letter") return ErrorPolicy::kDeadLetter;
  if (it->second == "continue") return ErrorPolicy::kContinue;
  KSTREAMS_CHECK(it->second == "fail", "error handler must be dead-letter, continue or fail");
  return ErrorPolicy::kFail;
}

std::string config_or(const std::map<std::string, std::string>& config, const std::string& key, std::string dflt) {
  auto it = config.find(key);
  return it == config.end() ? dflt : it->second;
}

// An in-memory registry whose totals tests read back. (common's InMemoryMetrics cannot be
// destroyed outside metrics.cc yet: its Series type is incomplete in the header.)
class DriverMetrics final : public MetricsRegistry {
 public:
  Counter& counter(const std::string& name, const std::string&, const Labels& labels) override {
    return series(name, labels, false);
  }
  Gauge& gauge(const std::string& name, const std::string&, const Labels& labels) override {
    return series(name, labels, false);
  }
  Histogram& histogram(const std::string& name, const std::string&, const Labels& labels,
                       const std::vector<double>&) override {
    return series(name, labels, true);
  }
  void remove_matching(const Labels&) override {}
  double total(const std::string& name, const Labels& labels) const {
    double sum = 0;
    for (const auto& [key, s] : series_) {
      if (key.first != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) {
        auto it = key.second.find(k);
        match = match && it != key.second.end() && it->second == v;
      }
      if (match) sum += s->histogram ? static_cast<double>(s->n) : s->v;
    }
    return sum;
  }

 private:
  struct Series final : Counter, Gauge, Histogram {
    bool histogram = false;
    double v = 0;
    uint64_t n = 0;
    void increment(double d) override { v += d; }
    void set(double d) override { v = d; }
    void add(double d) override { v += d; }
    void observe(double d) override {
      v += d;
      ++n;
    }
    [[nodiscard]] double value() const override { return v; }
    [[nodiscard]] uint64_t count() const override { return n; }
    [[nodiscard]] double sum() const override { return v; }
  };
  Series& series(const std::string& name, const Labels& labels, bool histogram) {
    auto& slot = series_[{name, labels}];
    if (!slot) {
      slot = std::make_unique<Series>();
      slot->histogram = histogram;
    }
    return *slot;
  }
  std::map<std::pair<std::string, Labels>, std::unique_ptr<Series>> series_;
};

}  // namespace

struct TopologyTestDriver::Impl {
  struct Topic {
    std::vector<std::vector<RawRecord>> partitions;
    std::vector<std::pair<int32_t, size_t>> order;  // (partition, index) in write order
    size_t read = 0;                                // position in `order` of read_next_raw()
  };

  class Collector final : public RecordCollector {
   public:
    Collector(Impl* impl, int32_t partition) : impl_(impl), partition_(partition) {}
    void send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value,
              const Headers& headers, TimestampMs timestamp, int32_t partition) override {
      impl_->append(topic, std::move(key), std::move(value), headers, timestamp, partition, /*transactional=*/true);
    }
    void append(const std::string& store, std::string_view key, std::optional<std::string_view> value,
                TimestampMs timestamp) override {
      impl_->append(changelog_topic(impl_->app_id, store), std::string(key),
                    value ? std::optional<std::string>(std::string(*value)) : std::nullopt, {}, timestamp, partition_,
                    /*transactional=*/true);
    }

   private:
    Impl* impl_;
    int32_t partition_;
  };

  struct TaskEntry {
    std::unique_ptr<Collector> collector;
    std::unique_ptr<StreamTask> task;
    std::map<std::string, size_t> consumed;            // topic -> next index in the task's partition
    std::map<std::string, size_t> committed_consumed;  // `consumed` as of the last commit
    std::string committed_metadata;                    // the task's commit metadata (its progress)
    TaskId id{};
  };

  const Topology topology;  // a copy: the driver may be given a temporary
  std::map<std::string, std::string> config;
  std::string app_id;
  ManualClock clock;
  DriverMetrics metrics;
  std::filesystem::path dir;
  std::map<std::string, Topic> topics;
  std::map<std::string, int32_t> partition_counts;
  // Declared before the tasks: their state managers use it until they close.
  std::unique_ptr<state::ChangelogCache> changelog_cache;
  std::vector<TaskEntry> tasks;
  std::unique_ptr<GlobalStateTask> global;
  std::map<std::string, size_t> global_consumed;  // "topic#partition" -> next index
  // Where the records the tasks wrote since the last commit start, per (topic, partition): the
  // open transaction, which abort() and crash_and_restart() drop.
  std::map<std::pair<std::string, int32_t>, size_t> transaction_start;
  TaskOptions options;
  int64_t commit_every = 1;
  int64_t uncommitted = 0;
  absl::Status status;

  Impl(const Topology& t, std::map<std::string, std::string> cfg, TimestampMs start)
      : topology(t), config(std::move(cfg)), clock(start) {
    app_id = config_or(config, "application.id", "test-app");
    commit_every = std::stoll(config_or(config, "commit.every.records", "1"));
    changelog_cache = std::make_unique<state::ChangelogCache>(
        static_cast<size_t>(std::stoll(config_or(config, "statestore.cache.max.bytes", "10485760"))));
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl =
        config_or(config, "state.dir", tmpdir != nullptr && *tmpdir != 0 ? tmpdir : "/tmp") + "/kstreams-driver-XXXXXX";
    const char* made = mkdtemp(tmpl.data());
    KSTREAMS_CHECK(made != nullptr, "cannot create the driver's state directory");
    dir = made;
    options.application_id = app_id;
    options.thread_name = "test-driver";
    options.deserialization_policy = parse_policy(config, "default.deserialization.exception.handler");
    options.processing_policy = parse_policy(config, "processing.exception.handler");
    options.dead_letter_topic = config_or(config, "errors.deadletterqueue.topic.name", app_id + "-dead-letters");
    create_tasks();
  }

  ~Impl() {
    for (auto& t : tasks) (void)t.task->close(true);
    if (global) (void)global->close();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  int32_t configured_partitions(const std::string& topic) const {
    auto it = config.find("topic.partitions." + topic);
    if (it != config.end()) return std::stoi(it->second);
    return std::stoi(config_or(config, "default.topic.partitions", "1"));
  }

  int32_t partitions_of(const std::string& topic) {
    auto it = partition_counts.find(topic);
    if (it != partition_counts.end()) return it->second;
    int32_t n = configured_partitions(topic);
    partition_counts[topic] = n;
    return n;
  }

  Topic& topic(const std::string& name) {
    Topic& t = topics[name];
    if (t.partitions.empty()) t.partitions.resize(partitions_of(name));
    return t;
  }

  void append(const std::string& name, std::optional<std::string> key, std::optional<std::string> value,
              const Headers& headers, TimestampMs ts, int32_t partition, bool transactional = false) {
    Topic& t = topic(name);
    const int32_t n = static_cast<int32_t>(t.partitions.size());
    if (partition < 0) partition = key ? partition_for_key(*key, n) : 0;
    KSTREAMS_CHECK(partition < n, "partition out of range");
    auto& log = t.partitions[partition];
    if (transactional) {
      transaction_start.try_emplace({name, partition}, log.size());
    } else {
      KSTREAMS_CHECK(transaction_start.count({name, partition}) == 0,
                     "piping into a partition the topology wrote to since the last commit");
    }
    RawRecord r;
    r.topic = name;
    r.partition = Partition(partition);
    r.offset = Offset(static_cast<int64_t>(log.size()));
    r.timestamp = ts;
    r.key = std::move(key);
    r.value = std::move(value);
    r.headers = headers;
    t.order.emplace_back(partition, log.size());
    log.push_back(std::move(r));
  }

  void create_tasks() {
    std::map<std::string, int32_t> user;
    for (const auto& t : topology.user_source_topics()) user[t] = configured_partitions(t);
    auto resolved = topology.resolve_partitions(app_id, user);
    KSTREAMS_CHECK(resolved.ok(), std::string(resolved.status().message()).c_str());
    partition_counts = *resolved;
    if (!topology.global_stores().empty()) {
      state::StateManagerOptions o;
      o.task = TaskId{-1, 0};
      o.task_dir = dir / "global";
      o.metrics = &metrics;
      auto sm = state::ProcessorStateManager::open(o, GlobalStateTask::store_specs(topology));
      KSTREAMS_CHECK(sm.ok(), std::string(sm.status().message()).c_str());
      global = std::make_unique<GlobalStateTask>(topology, std::move(*sm));
      options.global_stores = [this](std::string_view name) { return global->store(name); };
    }
    for (const auto& sub : topology.subtopologies()) {
      int32_t n = 1;
      for (const auto& t : sub.source_topics) n = std::max(n, partitions_of(t.full_name(app_id)));
      for (int32_t p = 0; p < n; ++p) {
        TaskEntry e;
        open_task(TaskId{sub.id, p}, &e);
        tasks.push_back(std::move(e));
      }
    }
  }

  // Opens the task's stores (restoring from its changelogs what they lack, as the runtime's
  // restoration does) and the task itself, with the progress it committed last.
  void open_task(TaskId id, TaskEntry* e) {
    const auto& sub = topology.subtopologies().at(id.subtopology);
    e->id = id;
    e->collector = std::make_unique<Collector>(this, id.partition);
    state::StateManagerOptions o;
    o.task = id;
    o.task_dir = dir / id.to_string();
    o.changelog = e->collector.get();
    o.changelog_cache = changelog_cache.get();
    o.metrics = &metrics;
    auto sm = state::ProcessorStateManager::open(o, sub.stores);
    KSTREAMS_CHECK(sm.ok(), std::string(sm.status().message()).c_str());
    for (const auto& spec : sub.stores) {
      if (!spec.logging) continue;
      auto it = topics.find(changelog_topic(app_id, spec.name));
      if (it == topics.end() || id.partition >= static_cast<int32_t>(it->second.partitions.size())) continue;
      const auto& log = it->second.partitions[id.partition];
      const auto from = static_cast<size_t>(std::max<int64_t>(0, (*sm)->restore_offset(spec.name).value_or(0)));
      if (from >= log.size()) continue;
      std::vector<RawRecord> batch(log.begin() + static_cast<std::ptrdiff_t>(from), log.end());
      absl::Status st = (*sm)->restore_batch(spec.name, batch, static_cast<int64_t>(log.size()));
      KSTREAMS_CHECK(st.ok(), std::string(st.message()).c_str());
    }
    e->task = std::make_unique<StreamTask>(id, topology, sub.id, std::move(*sm), e->collector.get(), clock, &metrics,
                                           options);
    absl::Status st = e->task->initialize();
    KSTREAMS_CHECK(st.ok(), std::string(st.message()).c_str());
    if (!e->committed_metadata.empty()) e->task->restore_progress({e->committed_metadata});
    e->consumed = e->committed_consumed;
  }

  // Drops what the tasks wrote since the last commit (a read_committed reader never sees it).
  void drop_transaction() {
    for (const auto& [tp, start] : transaction_start) {
      Topic& t = topics.at(tp.first);
      const int32_t partition = tp.second;
      t.partitions[partition].resize(start);
      std::erase_if(t.order, [&t, partition](const auto& entry) {
        return entry.first == partition && entry.second >= t.partitions[partition].size();
      });
      t.read = std::min(t.read, t.order.size());
    }
    transaction_start.clear();
    uncommitted = 0;
  }

  void abort_all() {
    drop_transaction();
    for (auto& e : tasks) {
      e.task->abort();
      e.consumed = e.committed_consumed;
    }
    run_to_quiescence();
  }

  void crash_and_restart() {
    drop_transaction();
    for (auto& e : tasks) {
      (void)e.task->close(/*clean=*/false);
      e.task.reset();
      open_task(e.id, &e);
    }
    run_to_quiescence();
  }

  // Feeds new records to the global task and the stream tasks and processes them, until nothing
  // moves (repartition topics feed downstream subtopologies within the same call).
  void run_to_quiescence() {
    if (!status.ok()) return;
    bool moved = true;
    while (moved && status.ok()) {
      moved = false;
      feed_global();
      for (auto& e : tasks) {
        for (const auto& topic_name : e.task->source_topics()) {
          auto it = topics.find(topic_name);
          if (it == topics.end()) continue;
          const int32_t p = e.task->id().partition;
          if (p >= static_cast<int32_t>(it->second.partitions.size())) continue;
          const auto& log = it->second.partitions[p];
          size_t& next = e.consumed[topic_name];
          if (next >= log.size()) continue;
          std::vector<RawRecord> batch(log.begin() + static_cast<std::ptrdiff_t>(next), log.end());
          next = log.size();
          e.task->add_records(topic_name, p, std::move(batch));
        }
        while (e.task->has_buffered()) {
          auto n = e.task->process(SIZE_MAX);
          if (!n.ok()) {
            status = n.status();
            return;
          }
          moved = moved || *n > 0;
        }
        absl::Status st = e.task->punctuate(clock.now_ms());
        if (!st.ok()) {
          status = st;
          return;
        }
      }
    }
  }

  void feed_global() {
    if (!global) return;
    for (const auto& g : topology.global_stores()) {
      auto it = topics.find(g.topic);
      if (it == topics.end()) continue;
      for (size_t p = 0; p < it->second.partitions.size(); ++p) {
        const auto& log = it->second.partitions[p];
        size_t& next = global_consumed[g.topic + "#" + std::to_string(p)];
        if (next >= log.size()) continue;
        std::vector<RawRecord> batch(log.begin() + static_cast<std::ptrdiff_t>(next), log.end());
        next = log.size();
        absl::Status st = global->add_records(g.topic, static_cast<int32_t>(p), batch);
        if (!st.ok()) status = st;
      }
    }
  }

  void commit_all() {
    if (!status.ok()) return;
    for (auto& e : tasks) {
      absl::Status st = e.task->prepare_commit();
      if (!st.ok()) status = st;
    }
    run_to_quiescence();  // what prepare_commit flushed may feed other subtopologies
    if (global) (void)global->commit();
    // As the runtime does: seal, commit the offsets with the task's progress as their metadata,
    // then let the stores apply the sealed writes.
    for (auto& e : tasks) {
      absl::Status st = e.task->seal_commit();
      if (!st.ok()) status = st;
      e.committed_metadata = e.task->commit_metadata();
      e.committed_consumed = e.consumed;
    }
    for (auto& e : tasks) {
      std::map<std::string, int64_t> changelog_offsets;
      for (const auto& spec : topology.subtopologies()[e.task->id().subtopology].stores) {
        if (!spec.logging) continue;
        const std::string name = changelog_topic(app_id, spec.name);
        auto it = topics.find(name);
        int64_t end = 0;
        if (it != topics.end() && e.task->id().partition < static_cast<int32_t>(it->second.partitions.size())) {
          end = static_cast<int64_t>(it->second.partitions[e.task->id().partition].size());
        }
        changelog_offsets[spec.name] = end;
      }
      absl::Status st = e.task->post_commit(changelog_offsets);
      if (!st.ok()) status = st;
    }
    transaction_start.clear();
    uncommitted = 0;
  }

  void after_input() {
    run_to_quiescence();
    bool requested = false;
    for (auto& e : tasks) requested = requested || e.task->commit_requested();
    if (++uncommitted >= commit_every || requested) commit_all();
  }
};

TopologyTestDriver::TopologyTestDriver(const Topology& topology, std::map<std::string, std::string> config,
                                       TimestampMs start_wall_clock_ms)
    : impl_(std::make_unique<Impl>(topology, std::move(config), start_wall_clock_ms)) {}

TopologyTestDriver::~TopologyTestDriver() { impl_->commit_all(); }

void TopologyTestDriver::pipe_raw(const std::string& topic, std::optional<std::string> key,
                                  std::optional<std::string> value, TimestampMs timestamp, const Headers& headers,
                                  int32_t partition) {
  if (!impl_->status.ok()) return;
  impl_->append(topic, std::move(key), std::move(value), headers, timestamp, partition);
  impl_->after_input();
}

std::vector<RawRecord> TopologyTestDriver::read_raw(const std::string& topic) const {
  std::vector<RawRecord> out;
  auto it = impl_->topics.find(topic);
  if (it == impl_->topics.end()) return out;
  for (const auto& [p, i] : it->second.order) out.push_back(it->second.partitions[p][i]);
  return out;
}

std::optional<RawRecord> TopologyTestDriver::read_next_raw(const std::string& topic) {
  auto it = impl_->topics.find(topic);
  if (it == impl_->topics.end() || it->second.read >= it->second.order.size()) return std::nullopt;
  auto [p, i] = it->second.order[it->second.read++];
  return it->second.partitions[p][i];
}

size_t TopologyTestDriver::unread(const std::string& topic) const {
  auto it = impl_->topics.find(topic);
  return it == impl_->topics.end() ? 0 : it->second.order.size() - it->second.read;
}

std::vector<std::string> TopologyTestDriver::topic_names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : impl_->topics) out.push_back(name);
  return out;
}

int32_t TopologyTestDriver::partitions(const std::string& topic) const { return impl_->partitions_of(topic); }

void TopologyTestDriver::advance_wall_clock_time(std::chrono::milliseconds d) {
  impl_->clock.advance(d);
  impl_->run_to_quiescence();
  impl_->commit_all();
}

void TopologyTestDriver::commit() { impl_->commit_all(); }

void TopologyTestDriver::abort() { impl_->abort_all(); }

void TopologyTestDriver::crash_and_restart() { impl_->crash_and_restart(); }

state::StateStore* TopologyTestDriver::raw_store(const std::string& store, int32_t partition) {
  if (impl_->global) {
    if (auto* s = impl_->global->store(store)) return s;
  }
  for (auto& e : impl_->tasks) {
    if (e.task->id().partition != partition) continue;
    if (auto* s = e.task->state_manager()->store(store)) return s;
  }
  return nullptr;
}

int32_t TopologyTestDriver::partition_of(const std::string& store, const std::string& key_bytes) const {
  for (const auto& sub : impl_->topology.subtopologies()) {
    for (const auto& spec : sub.stores) {
      if (spec.name != store) continue;
      int32_t n = 1;
      for (const auto& t : sub.source_topics) n = std::max(n, impl_->partitions_of(t.full_name(impl_->app_id)));
      return partition_for_key(key_bytes, n);
    }
  }
  return 0;
}

std::vector<RawRecord> TopologyTestDriver::changelog(const std::string& store) const {
  return read_raw(changelog_topic(impl_->app_id, store));
}

std::vector<RawRecord> TopologyTestDriver::dead_letters() const { return read_raw(impl_->options.dead_letter_topic); }

double TopologyTestDriver::metric(const std::string& name, const Labels& labels) const {
  return impl_->metrics.total(name, labels);
}

const std::string& TopologyTestDriver::application_id() const { return impl_->app_id; }

absl::Status TopologyTestDriver::status() const { return impl_->status; }

}  // namespace kstreams
