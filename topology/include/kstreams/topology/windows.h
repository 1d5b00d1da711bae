// Window definitions, with Kafka Streams' semantics:
//  - TimeWindows: epoch-aligned [start, start + size); hopping when advance < size (a record belongs
//    to every window whose range contains its timestamp); a window accepts records until
//    stream time >= end + grace, later ones are dropped and counted.
//  - SessionWindows: a session extends while records arrive within `inactivity_gap` of it.
//  - SlidingWindows: windows of `time_difference` defined by the records (see below).
//  - JoinWindows: stream-stream joins match records with |t1 - t2| <= before/after.
// All are values.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

#include "kstreams/common/types.h"

namespace kstreams {

using std::chrono::milliseconds;

namespace internal {
// Timestamp arithmetic that saturates at INT64_MIN / INT64_MAX instead of overflowing: a record's
// timestamp is input, and any int64 must leave the windowed nodes' arithmetic well-defined.
[[nodiscard]] inline TimestampMs saturating_add(TimestampMs a, int64_t b) {
  TimestampMs r = 0;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<TimestampMs>::max() : std::numeric_limits<TimestampMs>::min();
}
[[nodiscard]] inline TimestampMs saturating_sub(TimestampMs a, int64_t b) {
  TimestampMs r = 0;
  if (!__builtin_sub_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<TimestampMs>::min() : std::numeric_limits<TimestampMs>::max();
}
}  // namespace internal

struct TimeWindows {
  int64_t size_ms = 0;
  int64_t advance_ms = 0;
  int64_t grace_ms = 0;

  static TimeWindows of_size_with_no_grace(milliseconds size) { return {size.count(), size.count(), 0}; }
  static TimeWindows of_size_and_grace(milliseconds size, milliseconds grace) {
    return {size.count(), size.count(), grace.count()};
  }
  TimeWindows advance_by(milliseconds advance) const { return {size_ms, advance.count(), grace_ms}; }

  // Calls fn(start) for every window containing `ts`, ascending by start (Kafka's
  // TimeWindows.windowsFor). Windows never start before 0, so a negative `ts` has none; no window
  // either when size_ms or advance_ms is not > 0 (the DSL rejects such windows at build()).
  // Overflow-safe for every int64 `ts` (a window may reach past INT64_MAX: see window_end()); runs
  // at most ceil(size_ms / advance_ms) times. No allocation.
  template <typename Fn>
  void for_each_window_start(TimestampMs ts, Fn&& fn) const {
    if (ts < 0 || size_ms <= 0 || advance_ms <= 0) return;
    const TimestampMs last = ts - (ts % advance_ms);                          // the last aligned start <= ts
    const TimestampMs earliest = std::max<TimestampMs>(0, ts - size_ms + 1);  // ts >= 0, size > 0: no overflow
    if (earliest > last) return;  // advance > size: ts falls in a gap between windows
    // The smallest aligned start >= earliest.
    const TimestampMs first = last - ((last - earliest) / advance_ms) * advance_ms;
    // Counted, not `start += advance_ms` up to `last`: last + advance_ms may not be representable.
    const int64_t count = (last - first) / advance_ms + 1;
    for (int64_t i = 0; i < count; ++i) fn(first + i * advance_ms);
  }
  // End (exclusive) of the window starting at `start`: start + size_ms, or INT64_MAX when that is
  // not representable (such a window holds every timestamp >= start up to INT64_MAX - 1).
  [[nodiscard]] TimestampMs window_end(TimestampMs start) const {
    TimestampMs end = 0;
    return __builtin_add_overflow(start, size_ms, &end) ? std::numeric_limits<TimestampMs>::max() : end;
  }
  // Windows with window_end() <= close_time(stream_time) are closed (stream time reached end +
  // grace): stream_time - grace_ms, saturated at INT64_MIN / INT64_MAX.
  [[nodiscard]] TimestampMs close_time(TimestampMs stream_time) const {
    TimestampMs t = 0;
    if (!__builtin_sub_overflow(stream_time, grace_ms, &t)) return t;
    return grace_ms > 0 ? std::numeric_limits<TimestampMs>::min() : std::numeric_limits<TimestampMs>::max();
  }
  // The largest aligned window start whose window has closed at `stream_time` (start + size_ms +
  // grace_ms <= stream_time), or -1 when none has. Overflow-safe for every int64 argument.
  [[nodiscard]] TimestampMs last_closed_start(TimestampMs stream_time) const {
    if (advance_ms <= 0) return -1;
    TimestampMs t = 0;
    if (__builtin_sub_overflow(close_time(stream_time), size_ms, &t) || t < 0) return -1;
    return t - t % advance_ms;
  }
  [[nodiscard]] std::vector<TimestampMs> window_starts_for(TimestampMs ts) const {
    std::vector<TimestampMs> out;
    for_each_window_start(ts, [&](TimestampMs s) { out.push_back(s); });
    return out;
  }
};

struct SessionWindows {
  int64_t gap_ms = 0;
  int64_t grace_ms = 0;
  static SessionWindows with_inactivity_gap_and_no_grace(milliseconds gap) { return {gap.count(), 0}; }
  static SessionWindows with_inactivity_gap_and_grace(milliseconds gap, milliseconds grace) {
    return {gap.count(), grace.count()};
  }
};

// Kafka Streams' SlidingWindows: windows [start, start + time_difference] (both ends inclusive)
// defined by the records themselves: each record has a window ending at it and, when later records
// follow within the difference, a window starting just after it. Every window containing a new
// record is updated and emitted.
struct SlidingWindows {
  int64_t time_difference_ms = 0;
  int64_t grace_ms = 0;
  static SlidingWindows with_time_difference_and_grace(milliseconds diff, milliseconds grace) {
    return {diff.count(), grace.count()};
  }
  static SlidingWindows with_time_difference_and_no_grace(milliseconds diff) { return {diff.count(), 0}; }
};

struct JoinWindows {
  int64_t before_ms = 0;
  int64_t after_ms = 0;
  int64_t grace_ms = 0;
  static JoinWindows of_time_difference_with_no_grace(milliseconds d) { return {d.count(), d.count(), 0}; }
  static JoinWindows of_time_difference_and_grace(milliseconds d, milliseconds grace) {
    return {d.count(), d.count(), grace.count()};
  }
  JoinWindows before(milliseconds b) const { return {b.count(), after_ms, grace_ms}; }
  JoinWindows after(milliseconds a) const { return {before_ms, a.count(), grace_ms}; }
};

// When a windowed aggregation emits: on every update (default) or once per window when it closes
// (Kafka Streams' EmitStrategy.onWindowClose / suppress(untilWindowCloses)).
enum class EmitStrategy { kOnWindowUpdate, kOnWindowClose };

}  // namespace kstreams
