package kstreams.bench.saga;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * JSON helpers of the saga port: parsing with jackson-databind (a tree, so that the validation
 * rules can tell integers from floats and strings from everything else, as model.cc does with
 * nlohmann) and a small allocation-light writer for the records the topology emits.
 * Thread-safety: the static methods are thread-safe; a {@link Writer} belongs to one thread.
 */
final class Json {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private Json() {}

  /** The parsed value, or null when {@code bytes} is null or not JSON. */
  static JsonNode parseOrNull(byte[] bytes) {
    if (bytes == null) return null;
    try {
      JsonNode node = MAPPER.readTree(bytes);
      return node == null || node.isMissingNode() ? null : node;
    } catch (IOException e) {
      return null;
    }
  }

  /** Parses JSON the topology itself wrote; a parse failure is a {@link BadRecord}. */
  static JsonNode parseInternal(byte[] bytes, String errorClass) {
    JsonNode node = parseOrNull(bytes);
    if (node == null || !node.isObject()) {
      throw new BadRecord(errorClass, "not a JSON object");
    }
    return node;
  }

  static JsonNode parseInternal(String text, String errorClass) {
    return parseInternal(text == null ? null : text.getBytes(StandardCharsets.UTF_8), errorClass);
  }

  /** True when {@code v} is an integer that fits a long (2.0 or 2.5 are not integers). */
  static boolean isLong(JsonNode v) {
    return v != null && v.isIntegralNumber() && v.canConvertToLong();
  }

  private static final java.math.BigInteger MAX_UINT64 = java.math.BigInteger.ONE.shiftLeft(64).subtract(
      java.math.BigInteger.ONE);

  /**
   * True when {@code v} is an integer above Long.MAX_VALUE that fits 64 unsigned bits: what
   * nlohmann (model.cc) parses as an unsigned integer beyond int64 (an integer created_at out of
   * range). Larger or more negative integers are floats to nlohmann, hence "not an integer" here too.
   */
  static boolean isUnsignedBeyondLong(JsonNode v) {
    if (v == null || !v.isIntegralNumber() || v.canConvertToLong()) return false;
    java.math.BigInteger b = v.bigIntegerValue();
    return b.signum() > 0 && b.compareTo(MAX_UINT64) <= 0;
  }

  static boolean isNonEmptyString(JsonNode obj, String key) {
    JsonNode v = obj.get(key);
    return v != null && v.isTextual() && !v.textValue().isEmpty();
  }

  /** A required field of an internal record. */
  static long requireLong(JsonNode obj, String key, String errorClass) {
    JsonNode v = obj.get(key);
    if (!isLong(v)) throw new BadRecord(errorClass, "field '" + key + "' is not an integer");
    return v.longValue();
  }

  static String requireString(JsonNode obj, String key, String errorClass) {
    JsonNode v = obj.get(key);
    if (v == null || !v.isTextual()) throw new BadRecord(errorClass, "field '" + key + "' is not a string");
    return v.textValue();
  }

  /** An input record the topology cannot use: it goes to dead-letters with this class and message. */
  static final class BadRecord extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final String errorClass;

    BadRecord(String errorClass, String message) {
      super(message, null, false, false);
      this.errorClass = errorClass;
    }
  }

  /** Builds one JSON object (or array) as text; fields are appended in call order. */
  static final class Writer {
    private final StringBuilder b = new StringBuilder(192);
    private boolean first = true;

    Writer begin() {
      b.append('{');
      first = true;
      return this;
    }

    Writer end() {
      b.append('}');
      first = false;
      return this;
    }

    Writer beginArray(String key) {
      key(key);
      b.append('[');
      first = true;
      return this;
    }

    Writer endArray() {
      b.append(']');
      first = false;
      return this;
    }

    /** Starts an object as the next array element. */
    Writer element() {
      if (!first) b.append(',');
      first = true;
      b.append('{');
      return this;
    }

    /** A raw number as the next array element. */
    Writer element(long v) {
      if (!first) b.append(',');
      first = false;
      b.append(v);
      return this;
    }

    private void key(String key) {
      if (!first) b.append(',');
      first = false;
      quote(b, key);
      b.append(':');
    }

    Writer field(String key, String value) {
      key(key);
      if (value == null) {
        b.append("null");
      } else {
        quote(b, value);
      }
      return this;
    }

    Writer field(String key, long value) {
      key(key);
      b.append(value);
      return this;
    }

    Writer field(String key, boolean value) {
      key(key);
      b.append(value);
      return this;
    }

    /** A field whose value is already JSON text. */
    Writer rawField(String key, String json) {
      key(key);
      b.append(json);
      return this;
    }

    @Override
    public String toString() {
      return b.toString();
    }
  }

  static void quote(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          b.append("\\\"");
          break;
        case '\\':
          b.append("\\\\");
          break;
        case '\n':
          b.append("\\n");
          break;
        case '\r':
          b.append("\\r");
          break;
        case '\t':
          b.append("\\t");
          break;
        case '\b':
          b.append("\\b");
          break;
        case '\f':
          b.append("\\f");
          break;
        default:
          if (c < 0x20) {
            b.append("\\u00");
            b.append(Character.forDigit(c >> 4, 16));
            b.append(Character.forDigit(c & 0xf, 16));
          } else {
            b.append(c);
          }
      }
    }
    b.append('"');
  }
}
