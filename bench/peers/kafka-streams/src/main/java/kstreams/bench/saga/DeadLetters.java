package kstreams.bench.saga;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Dead letters as the contract defines them: the original key and value bytes, unchanged, with
 * dlq.error, dlq.message and dlq.source.{topic,partition,offset} headers (the C++ runtime adds these
 * itself for a ProcessingException; Kafka Streams 3.9 has no dead-letter queue, so the processors
 * forward the record to a dead-letters sink of their own).
 */
final class DeadLetters {
  private DeadLetters() {}

  static void forward(ProcessorContext<String, SagaRecords.Emit> ctx, Record<String, byte[]> record, String sink,
      String errorClass, String message) {
    Headers headers = new RecordHeaders(record.headers().toArray());
    headers.add(Model.DLQ_ERROR, utf8(errorClass));
    headers.add(Model.DLQ_MESSAGE, utf8(message == null ? "" : message));
    RecordMetadata meta = ctx.recordMetadata().orElse(null);
    if (meta != null) {
      headers.add(Model.DLQ_SOURCE_TOPIC, utf8(meta.topic()));
      headers.add(Model.DLQ_SOURCE_PARTITION, utf8(Integer.toString(meta.partition())));
      headers.add(Model.DLQ_SOURCE_OFFSET, utf8(Long.toString(meta.offset())));
    }
    ctx.forward(new Record<>(record.key(), SagaRecords.Emit.raw(record.value()), record.timestamp(), headers), sink);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
