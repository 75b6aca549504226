// Package log is Gregor's storage engine: each partition replica is a directory of segment files
// in Apache Kafka's own on-disk format, so Kafka's tools can read what Gregor writes and back.
//
// It owns:
//   - record batches (magic 2): header parsing and validation without decompression (batch.go),
//     and a record reader for tools and compaction (record_reader.go);
//   - segments: `<base offset, 20 digits>.log`, the sparse `.index` and the `.timeindex`;
//   - the partition Log: append (offsets assigned under the log's mutex, one write per batch set,
//     only base offset and leader epoch rewritten), reads of whole batches across segments,
//     truncation, DeleteRecords, offset-for-timestamp, the leader-epoch cache;
//   - idempotent-producer state and Kafka's `.snapshot` files (producer_state.go);
//   - the Manager: log.dirs, meta.properties, the recovery-point / log-start-offset /
//     replication-offset checkpoints, crash recovery, retention, flush, delayed deletion.
//
// It must not touch anything above it: no networking, no ZooKeeper, no Kafka error codes (errors
// are sentinel values that broker/api maps). It imports nothing else of the project except its
// own vfs seam.
//
// Lock order: Manager.mu → Log.mu. Each Log's mutex guards its segments, offsets, epoch cache and
// producer state; readers hold it only to capture a view and then read files without it.
package log
