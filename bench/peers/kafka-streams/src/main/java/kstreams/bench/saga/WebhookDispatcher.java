package kstreams.bench.saga;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * POSTs notifications to the webhook off the stream threads (topology/webhook_dispatcher.cc), with
 * java.net.http.HttpClient: {@code notifications.workers} threads each send one request at a time.
 *
 * <p>Tasks never wait for HTTP: a task opens a {@link Mailbox}, submits deliveries, and collects the
 * outcomes from its mailbox on its own thread (a wall-clock punctuator). A closed mailbox drops late
 * outcomes (the task's next owner re-sends what is still in the outbox store, so webhook delivery is
 * at-least-once with the Idempotency-Key header while Kafka sees each receipt once).
 *
 * <p>Thread-safety: every method is thread-safe. One dispatcher per (url, workers, timeout) per JVM,
 * shared by every task ({@link #shared}); its daemon threads live as long as the JVM.
 */
final class WebhookDispatcher {
  /** The outcome of one POST. */
  static final class Outcome {
    final String notificationId;
    final boolean success;
    final String error; // "HTTP 503", "ConnectException: ...", ...

    Outcome(String notificationId, boolean success, String error) {
      this.notificationId = notificationId;
      this.success = success;
      this.error = error;
    }
  }

  /** Outcomes of one task's deliveries. */
  static final class Mailbox {
    private final ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    /** Outcomes delivered since the last call. */
    List<Outcome> take() {
      List<Outcome> out = new ArrayList<>();
      for (Outcome o; (o = outcomes.poll()) != null; ) out.add(o);
      return out;
    }

    void close() {
      closed = true;
      outcomes.clear();
    }

    boolean closed() {
      return closed;
    }

    void put(Outcome o) {
      if (!closed) outcomes.add(o);
    }
  }

  private static final Map<String, WebhookDispatcher> SHARED = new ConcurrentHashMap<>();

  static WebhookDispatcher shared(String url, int workers, Duration timeout) {
    return SHARED.computeIfAbsent(url + "|" + workers + "|" + timeout.toMillis(),
        k -> new WebhookDispatcher(url, workers, timeout));
  }

  private final URI uri;
  private final Duration timeout;
  private final HttpClient client;
  private final LinkedBlockingQueue<Job> jobs = new LinkedBlockingQueue<>();

  private static final class Job {
    final Mailbox mailbox;
    final String notificationId;
    final String body;

    Job(Mailbox mailbox, String notificationId, String body) {
      this.mailbox = mailbox;
      this.notificationId = notificationId;
      this.body = body;
    }
  }

  private WebhookDispatcher(String url, int workers, Duration timeout) {
    this.uri = URI.create(url);
    if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))) {
      throw new IllegalArgumentException("notifications.webhook.url '" + url + "' is not an http(s) URL");
    }
    this.timeout = timeout;
    this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout).build();
    // As the C++ dispatcher: a few workers, each sending one request at a time (so at most
    // `workers` connections to the webhook), fed by one queue.
    for (int i = 0; i < Math.max(1, workers); i++) {
      Thread t = new Thread(this::work, "saga-webhook-" + i);
      t.setDaemon(true);
      t.start();
    }
  }

  /** Queues one POST of {@code body} with Idempotency-Key: notificationId; the outcome goes to {@code mailbox}. */
  void submit(Mailbox mailbox, String notificationId, String body) {
    jobs.add(new Job(mailbox, notificationId, body));
  }

  private void work() {
    while (true) {
      Job job;
      try {
        job = jobs.take();
      } catch (InterruptedException e) {
        return;
      }
      if (job.mailbox.closed()) continue;
      job.mailbox.put(post(job));
    }
  }

  private Outcome post(Job job) {
    HttpRequest request = HttpRequest.newBuilder(uri)
        .timeout(timeout)
        .header("Content-Type", "application/json")
        .header(Model.IDEMPOTENCY_KEY_HEADER, job.notificationId)
        .POST(HttpRequest.BodyPublishers.ofString(job.body))
        .build();
    try {
      HttpResponse<Void> response = client.send(request, HttpResponse.BodyHandlers.discarding());
      if (response.statusCode() >= 200 && response.statusCode() < 300) {
        return new Outcome(job.notificationId, true, "");
      }
      return new Outcome(job.notificationId, false, "HTTP " + response.statusCode());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome(job.notificationId, false, "interrupted");
    } catch (IOException | RuntimeException e) {
      String message = e.getMessage();
      return new Outcome(job.notificationId, false, e.getClass().getSimpleName() + (message == null ? "" : ": " + message));
    }
  }
}
