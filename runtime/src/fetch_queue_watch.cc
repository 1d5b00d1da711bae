#include "fetch_queue_watch.h"

namespace kstreams::runtime {

void FetchQueueWatch::observe(int64_t queued) {
  const auto n = static_cast<double>(queued);
  // Half of a threshold, not the threshold: the queue is sampled once per poll loop, which takes up
  // to 5,000 records, so the peak that stopped the fetcher can go unseen.
  if (n >= 0.5 * static_cast<double>(max_records) || n * avg_record_bytes >= 0.5 * static_cast<double>(max_bytes)) {
    filled = true;
  }
}

bool FetchQueueWatch::should_wake(int64_t queued) {
  // Below half, not empty: the fetch then refills the queue while the rest is processed.
  const auto n = static_cast<double>(queued);
  if (!filled || n >= 0.5 * static_cast<double>(max_records) ||
      n * avg_record_bytes >= 0.5 * static_cast<double>(max_bytes)) {
    return false;
  }
  filled = false;
  return true;
}

void FetchQueueWatch::sample(size_t bytes, size_t records) {
  if (records == 0) return;
  const double avg = static_cast<double>(bytes) / static_cast<double>(records);
  avg_record_bytes = avg_record_bytes == 0 ? avg : 0.9 * avg_record_bytes + 0.1 * avg;
}

}  // namespace kstreams::runtime
