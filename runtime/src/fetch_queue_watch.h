// When to wake a librdkafka 2.0 fetcher that stopped because its prefetch queue filled.
//
// librdkafka 2.0 stops fetching a partition once the consumer's queue holds queued.min.messages
// records or queued.max.messages.kbytes, and re-checks only on its broker thread's one-second timer
// (2.1 added fetch.queue.backoff.ms; Debian 12 has 2.0.2): a backlog then drains in bursts with up
// to a second of nothing in between. The stream thread samples the queue length once per poll
// loop; this decides when a queue that was full has drained enough that the fetcher should be
// woken (StreamThread::kick_stalled_fetcher sends it a request). Plain value; one per consumer,
// used by its stream thread only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kstreams::runtime {

struct FetchQueueWatch {
  int64_t max_records = 100000;      // queued.min.messages
  int64_t max_bytes = 65536 * 1024;  // queued.max.messages.kbytes * 1024
  bool filled = false;               // the queue reached half a threshold since the last wake-up
  double avg_record_bytes = 0;       // running average of key + value sizes

  // The queue holds `queued` records now. Half of a threshold counts as full: the queue is sampled
  // once per poll loop, which takes up to 5,000 records, so the peak that stopped the fetcher can go
  // unseen.
  void observe(int64_t queued);
  // True (once per fill) when a filled queue is below half of both thresholds again: the fetch then
  // refills the queue while the rest is processed.
  [[nodiscard]] bool should_wake(int64_t queued);
  // Records the sizes of a polled batch (for the byte threshold).
  void sample(size_t bytes, size_t records);
};

}  // namespace kstreams::runtime
