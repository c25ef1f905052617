package io.sentinel.flink;

import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.serialization.SerializationSchema;

/**
 * Serialises one half of a "key\tvalue" string, so a PyFlink job can give Kafka records a key
 * (the entity) and a value (the JSON record) from one string element: PyFlink has no way to write
 * a SerializationSchema in Python, and Flink's row schemas cannot project a single field.
 */
public class KeyValueSplitSchema implements SerializationSchema<String> {
    private static final long serialVersionUID = 1L;
    private final boolean key;

    public KeyValueSplitSchema(boolean key) {
        this.key = key;
    }

    @Override
    public byte[] serialize(String element) {
        int tab = element.indexOf('\t');
        String part;
        if (tab < 0) {
            part = key ? "" : element;
        } else {
            part = key ? element.substring(0, tab) : element.substring(tab + 1);
        }
        return part.getBytes(StandardCharsets.UTF_8);
    }
}
