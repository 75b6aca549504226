// Package checker is the one "nothing lost" checker of Gregor's end-to-end and fault tests: a
// test records every write the producer saw acknowledged (History.Acked) and every write whose
// outcome it does not know (History.Attempted), reads the topics back from the log start with a
// fresh consumer (ReadAll), and Check compares the two. The Report names, with examples, every
// record that was
//
//   - lost: acknowledged, yet absent from the read-back;
//   - duplicated: present more often than it was written (a failure only with Idempotent);
//   - reordered: read back, within a partition, in an order other than the one acknowledged;
//   - moved: read back, but not at the offset its acknowledgement named;
//   - corrupted: its acknowledged offset holds data no test write ever had (bit rot, a torn or
//     mis-framed batch, wrong key, value or headers);
//   - offset-reused: its acknowledged offset was acknowledged again, or now holds, a different
//     write of the test (a truncation followed by re-append, an epoch bug);
//   - unexpected: read back, matching no write of the test at all, at an offset nobody acked.
//
// A record's identity is its content — topic, key, value (null distinct from empty) and headers
// — so a test must make every write distinguishable (a sequence number in the value does).
// Writing the same content n times is allowed: it is expected n times. The history keeps a
// 128-bit hash of the content and a short key prefix for messages, never the value, so a
// soak of millions of records stays small.
//
// Offsets and partitions may be unknown (-1) for clients that do not report them (kafka-go's
// Writer, kcat): such records are matched by content within the topic (and the partition if
// known), and their order is checked by the order of the Acked calls.
//
// Concurrency: History is safe for concurrent use (one mutex, a leaf, held only to append).
// ReadAll starts a franz-go client and closes it before returning; nothing here runs a
// goroutine that outlives a call. The package must not reach into broker internals: it sees
// the cluster only through the Kafka protocol.
package checker
