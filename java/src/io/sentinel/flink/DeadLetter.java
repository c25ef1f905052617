package io.sentinel.flink;

import java.util.Arrays;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.kafka.sink.HeaderProvider;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Dead-letter records. The job emits one byte[] element per rejected input,
 * "reason\tdetail\t" followed by the input's original bytes; the Kafka record gets
 * key = reason, value = the original bytes unchanged, headers "reason" and "detail".
 */
public final class DeadLetter {
    private DeadLetter() {}

    /** Index of the first byte of field {@code n} (0-based), or -1 past the last field. */
    static int fieldStart(byte[] element, int n) {
        int start = 0;
        for (int found = 0; found < n; found++) {
            int i = start;
            while (i < element.length && element[i] != '\t') {
                i++;
            }
            if (i >= element.length) {
                return -1;
            }
            start = i + 1;
        }
        return start;
    }

    static byte[] field(byte[] element, int n, boolean rest) {
        int start = fieldStart(element, n);
        if (start < 0) {
            return new byte[0];
        }
        int end = element.length;
        if (!rest) {
            end = start;
            while (end < element.length && element[end] != '\t') {
                end++;
            }
        }
        return Arrays.copyOfRange(element, start, end);
    }

    /** The record key: the reason. */
    public static class Key implements SerializationSchema<byte[]> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] serialize(byte[] element) {
            return field(element, 0, false);
        }
    }

    /** The record value: the original payload, byte for byte. */
    public static class Value implements SerializationSchema<byte[]> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] serialize(byte[] element) {
            return field(element, 2, true);
        }
    }

    /** Headers "reason" and "detail" (UTF-8). */
    public static class HeaderFields implements HeaderProvider<byte[]> {
        private static final long serialVersionUID = 1L;

        @Override
        public Headers getHeaders(byte[] element) {
            RecordHeaders headers = new RecordHeaders();
            headers.add("reason", field(element, 0, false));
            headers.add("detail", field(element, 1, false));
            return headers;
        }
    }
}
