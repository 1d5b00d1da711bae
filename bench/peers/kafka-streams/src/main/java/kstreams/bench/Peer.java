package kstreams.bench;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import kstreams.bench.saga.SagaTopology;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Apache Kafka Streams contender of the benchmark harness. Implements bench/harness/PROTOCOL.md:
 * parses the contender command line, builds the scenario's topology, runs one KafkaStreams instance
 * and prints the protocol events (one JSON object per line) on stdout. Everything else (Kafka Streams'
 * logging, {@code setting k=v} lines, errors) goes to stderr.
 *
 * <p>Exit codes: 0 after SIGTERM/SIGINT and a clean close, 1 after a runtime error (an
 * {@code error} event is printed first), 2 for a bad command line or a rejected setting.
 */
public final class Peer {
  static final List<String> SCENARIOS =
      List.of("stateless", "count", "tumbling", "hopping", "table_join", "stream_join", "saga", "restore");
  static final List<String> GUARANTEES = List.of(StreamsConfig.AT_LEAST_ONCE, StreamsConfig.EXACTLY_ONCE_V2);

  /** How long a clean shutdown may take before close() gives up. */
  static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);

  private Peer() {}

  /** A bad command line; main prints the message as one line and exits 2. */
  static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  /** The parsed command line. */
  static final class Options {
    String scenario;
    String guarantee;
    String bootstrap;
    String appId;
    String prefix;
    long expect;
    String stateDir;
    final Map<String, String> extra = new LinkedHashMap<>();
  }

  static Options parse(String[] args) throws UsageException {
    Options o = new Options();
    boolean expectSeen = false;
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      String value;
      int eq = flag.indexOf('=');
      if (flag.startsWith("--") && eq > 0) { // --flag=value
        value = flag.substring(eq + 1);
        flag = flag.substring(0, eq);
      } else {
        if (i + 1 >= args.length) {
          throw new UsageException("missing value after " + flag);
        }
        value = args[++i];
      }
      switch (flag) {
        case "--scenario":
          if (!SCENARIOS.contains(value)) {
            throw new UsageException("bad --scenario '" + value + "' (one of " + String.join("|", SCENARIOS) + ")");
          }
          o.scenario = value;
          break;
        case "--guarantee":
          if (!GUARANTEES.contains(value)) {
            throw new UsageException("bad --guarantee '" + value + "' (at_least_once|exactly_once_v2)");
          }
          o.guarantee = value;
          break;
        case "--bootstrap":
          o.bootstrap = nonEmpty(flag, value);
          break;
        case "--app-id":
          o.appId = nonEmpty(flag, value);
          break;
        case "--prefix":
          o.prefix = nonEmpty(flag, value);
          break;
        case "--expect":
          try {
            o.expect = Long.parseLong(value);
          } catch (NumberFormatException e) {
            throw new UsageException("bad --expect '" + value + "' (a record count >= 0)");
          }
          if (o.expect < 0) {
            throw new UsageException("bad --expect '" + value + "' (a record count >= 0)");
          }
          expectSeen = true;
          break;
        case "--state-dir":
          o.stateDir = nonEmpty(flag, value);
          break;
        case "--set": {
          int kv = value.indexOf('=');
          if (kv <= 0) {
            throw new UsageException("bad --set '" + value + "' (expected key=value)");
          }
          o.extra.put(value.substring(0, kv), value.substring(kv + 1));
          break;
        }
        default:
          throw new UsageException("unknown flag '" + flag + "'");
      }
    }
    List<String> missing = new ArrayList<>();
    if (o.scenario == null) missing.add("--scenario");
    if (o.guarantee == null) missing.add("--guarantee");
    if (o.bootstrap == null) missing.add("--bootstrap");
    if (o.appId == null) missing.add("--app-id");
    if (o.prefix == null) missing.add("--prefix");
    if (!expectSeen) missing.add("--expect");
    if (o.stateDir == null) missing.add("--state-dir");
    if (!missing.isEmpty()) {
      throw new UsageException("missing required " + String.join(", ", missing));
    }
    return o;
  }

  private static String nonEmpty(String flag, String value) throws UsageException {
    if (value.isEmpty()) {
      throw new UsageException("empty value for " + flag);
    }
    return value;
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  /** The real stdout; System.out is redirected to stderr so only events reach it. */
  private static PrintStream events;

  static synchronized void emit(String json) {
    events.println(json);
    events.flush();
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        default:
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
      }
    }
    return b.append('"').toString();
  }

  static String describe(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (b.length() > 0) b.append(" <- ");
      b.append(c.getClass().getName());
      if (c.getMessage() != null) b.append(": ").append(c.getMessage());
    }
    return b.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // Topologies

  private static final Serde<String> S = Serdes.String();

  static final Duration WINDOW_GRACE = Duration.ofSeconds(30);

  /**
   * Adds the scenario's topology to {@code builder} exactly as PROTOCOL.md's table says; every
   * record read from a stream source (not a table source) increments {@code processed}.
   */
  static void buildTopology(StreamsBuilder builder, String scenario, String prefix, AtomicLong processed)
      throws UsageException {
    String in = prefix + "-in";
    String out = prefix + "-out";
    switch (scenario) {
      case "stateless":
        source(builder, in, processed)
            .filter((k, v) -> k == null || !k.endsWith("7"))
            .mapValues(v -> v == null || v.isEmpty() ? "x" : "x" + v.substring(1))
            .to(out, Produced.with(S, S));
        break;
      case "count":
      case "restore":
        source(builder, in, processed)
            .groupByKey(Grouped.with("by-key", S, S))
            .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("counts")
                .withKeySerde(S).withValueSerde(Serdes.Long()))
            .toStream()
            .mapValues(c -> Long.toString(c))
            .to(out, Produced.with(S, S));
        break;
      case "tumbling":
        windowedCount(source(builder, in, processed),
            TimeWindows.ofSizeAndGrace(Duration.ofSeconds(60), WINDOW_GRACE), "tumbling-counts", out);
        break;
      case "hopping":
        windowedCount(source(builder, in, processed),
            TimeWindows.ofSizeAndGrace(Duration.ofSeconds(300), WINDOW_GRACE).advanceBy(Duration.ofSeconds(60)),
            "hopping-counts", out);
        break;
      case "table_join": {
        KTable<String, String> table = builder.table(prefix + "-table", Consumed.with(S, S),
            Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("table")
                .withKeySerde(S).withValueSerde(S));
        source(builder, in, processed)
            .join(table, (s, t) -> s + "|" + t, Joined.with(S, S, S))
            .to(out, Produced.with(S, S));
        break;
      }
      case "stream_join": {
        KStream<String, String> left = source(builder, in, processed);
        KStream<String, String> right = source(builder, prefix + "-in2", processed);
        left.join(right, (l, r) -> l + "|" + r,
                JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(60), WINDOW_GRACE),
                StreamJoined.with(S, S, S))
            .to(out, Produced.with(S, S));
        break;
      }
      case "saga":
        // The port (kstreams.bench.saga.SagaTopology) calls onOrder.accept(1L) for every record read
        // from the orders topic (a peek right after that source).
        SagaTopology.build(builder, prefix, n -> processed.addAndGet(n));
        break;
      default:
        throw new UsageException("unknown scenario " + scenario);
    }
  }

  private static KStream<String, String> source(StreamsBuilder builder, String topic, AtomicLong processed) {
    return builder.stream(topic, Consumed.with(S, S)).peek((k, v) -> processed.incrementAndGet());
  }

  private static void windowedCount(KStream<String, String> stream, TimeWindows windows, String store, String out) {
    stream.groupByKey(Grouped.with(S, S))
        .windowedBy(windows)
        .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as(store)
            .withKeySerde(S).withValueSerde(Serdes.Long()))
        .toStream((Windowed<String> wk, Long c) -> wk.key() + "@" + wk.window().start())
        .mapValues(c -> Long.toString(c))
        .to(out, Produced.with(S, S));
  }

  // ---------------------------------------------------------------------------------------------
  // Restore tracking

  /**
   * Prints restore_start at the first onRestoreStart and restore_done once every changelog partition
   * that started restoring has ended, with the sum of their totalRestored.
   *
   * <p>Kafka Streams 3.9 restores in a separate state-updater thread and registers the changelog
   * partitions of the tasks one after another, so "no partition restoring right now" can happen
   * between two partitions (one finished before the next one was registered). The event is
   * therefore only emitted once the client also reached RUNNING (which it does only after every
   * task finished restoring); its t_ms is the time the last partition ended, not the RUNNING time.
   * Called from the state-updater and stream threads; all state is guarded by {@code this}.
   */
  static final class RestoreTracker implements StateRestoreListener {
    private final Set<String> active = new HashSet<>();
    private long restored;
    private long lastEndMs;
    private boolean started;
    private boolean running;
    private boolean done;

    private static String id(TopicPartition tp, String store) {
      return store + "/" + tp;
    }

    @Override
    public synchronized void onRestoreStart(TopicPartition tp, String store, long startingOffset, long endingOffset) {
      if (!started) {
        started = true;
        emit("{\"event\":\"restore_start\",\"t_ms\":" + System.currentTimeMillis() + "}");
      }
      active.add(id(tp, store));
    }

    @Override
    public void onBatchRestored(TopicPartition tp, String store, long batchEndOffset, long numRestored) {}

    @Override
    public synchronized void onRestoreEnd(TopicPartition tp, String store, long totalRestored) {
      ended(tp, store, totalRestored);
    }

    @Override
    public synchronized void onRestoreSuspended(TopicPartition tp, String store, long totalRestored) {
      // The partition moved away before it finished (a rebalance); it no longer holds up the event.
      System.err.println("peer: restore of " + id(tp, store) + " suspended after " + totalRestored + " records");
      ended(tp, store, totalRestored);
    }

    /** The client reached RUNNING: every assigned task has finished restoring. */
    synchronized void onRunning() {
      running = true;
      finishIfDone();
    }

    private void ended(TopicPartition tp, String store, long totalRestored) {
      active.remove(id(tp, store));
      restored += totalRestored;
      lastEndMs = System.currentTimeMillis();
      finishIfDone();
    }

    private void finishIfDone() {
      if (started && running && !done && active.isEmpty()) {
        done = true;
        emit("{\"event\":\"restore_done\",\"t_ms\":" + lastEndMs + ",\"restored\":" + restored + "}");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  public static void main(String[] args) {
    events = System.out;
    System.setOut(System.err);

    Options o;
    try {
      o = parse(args);
    } catch (UsageException e) {
      System.err.println("peer: " + e.getMessage());
      System.exit(2);
      return;
    }

    AtomicLong processed = new AtomicLong();
    StreamsBuilder builder = new StreamsBuilder();
    Topology topology;
    try {
      buildTopology(builder, o.scenario, o.prefix, processed);
      topology = builder.build();
    } catch (UsageException e) {
      System.err.println("peer: " + e.getMessage());
      System.exit(2);
      return;
    } catch (RuntimeException e) {
      emit("{\"event\":\"error\",\"message\":" + quote("building the topology: " + describe(e)) + "}");
      System.exit(1);
      return;
    }

    // Settings besides Kafka Streams' defaults: the flags, then --set overrides (which win).
    Map<String, String> settings = new LinkedHashMap<>();
    settings.put(StreamsConfig.APPLICATION_ID_CONFIG, o.appId);
    settings.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap);
    settings.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, o.guarantee);
    settings.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
    settings.put(StreamsConfig.STATE_DIR_CONFIG, o.stateDir);
    if (o.scenario.equals("saga")) {
      // The saga's analytics must emit every closed window at once, as the kstreams topology does
      // (Kafka Streams checks for closed windows only once a second by default).
      settings.putAll(kstreams.bench.saga.SagaTopology.defaultSettings());
    }
    settings.putAll(o.extra);
    Properties props = new Properties();
    settings.forEach((k, v) -> {
      props.put(k, v);
      System.err.println("setting " + k + "=" + v);
    });

    KafkaStreams streams;
    try {
      streams = new KafkaStreams(topology, props);
    } catch (ConfigException e) {
      System.err.println("peer: rejected setting: " + e.getMessage().replace('\n', ' '));
      System.exit(2);
      return;
    } catch (RuntimeException e) {
      emit("{\"event\":\"error\",\"message\":" + quote("creating KafkaStreams: " + describe(e)) + "}");
      System.exit(1);
      return;
    }

    CountDownLatch stop = new CountDownLatch(1);
    AtomicReference<String> error = new AtomicReference<>();
    AtomicBoolean readyPrinted = new AtomicBoolean();

    RestoreTracker restore = o.scenario.equals("restore") ? new RestoreTracker() : null;
    streams.setStateListener((newState, oldState) -> {
      if (newState == KafkaStreams.State.RUNNING) {
        if (restore != null) restore.onRunning();
        if (readyPrinted.compareAndSet(false, true)) {
          emit("{\"event\":\"ready\",\"t_ms\":" + System.currentTimeMillis() + "}");
        }
      } else if (newState == KafkaStreams.State.ERROR) {
        error.compareAndSet(null, "Kafka Streams entered state ERROR (from " + oldState + ")");
        stop.countDown();
      }
    });
    streams.setUncaughtExceptionHandler(e -> {
      error.compareAndSet(null, describe(e));
      stop.countDown();
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    if (restore != null) streams.setGlobalStateRestoreListener(restore);

    // SIGTERM/SIGINT: close cleanly (commits) and exit 0. A plain shutdown hook would leave the JVM's
    // exit status at 128+signal, so the signals are handled here and main exits itself.
    AtomicBoolean signalled = new AtomicBoolean();
    for (String sig : new String[] {"TERM", "INT"}) {
      sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> {
        signalled.set(true);
        stop.countDown();
      });
    }
    // Any other JVM exit (e.g. System.exit elsewhere, SIGHUP) still closes the instance.
    AtomicBoolean closed = new AtomicBoolean();
    Thread hook = new Thread(() -> {
      if (closed.compareAndSet(false, true)) streams.close(CLOSE_TIMEOUT);
    }, "peer-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);

    Thread monitor = new Thread(() -> {
      boolean first = false;
      while (true) {
        long n = processed.get();
        if (!first && n >= 1) {
          first = true;
          emit("{\"event\":\"first\",\"t_ms\":" + System.currentTimeMillis() + ",\"processed\":" + n + "}");
        }
        if (first && o.expect > 0 && n >= o.expect) {
          emit("{\"event\":\"done\",\"t_ms\":" + System.currentTimeMillis() + ",\"processed\":" + n + "}");
          return;
        }
        try {
          Thread.sleep(2);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "peer-monitor");
    monitor.setDaemon(true);
    monitor.start();

    try {
      streams.start();
    } catch (RuntimeException e) {
      error.compareAndSet(null, "starting KafkaStreams: " + describe(e));
      stop.countDown();
    }

    try {
      stop.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    String message = error.get();
    if (message != null && !signalled.get()) {
      emit("{\"event\":\"error\",\"message\":" + quote(message) + "}");
      if (closed.compareAndSet(false, true)) streams.close(Duration.ofSeconds(10));
      System.exit(1);
    }
    boolean clean = true;
    if (closed.compareAndSet(false, true)) clean = streams.close(CLOSE_TIMEOUT);
    if (!clean) System.err.println("peer: close did not finish within " + CLOSE_TIMEOUT.toSeconds() + " s");
    System.exit(0);
  }
}
