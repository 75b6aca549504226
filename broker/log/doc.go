// Package log is Gregor's storage engine: each partition replica is a directory of segment files
// in Apache Kafka's own on-disk format, so Kafka's tools can read what Gregor writes and back.
//
// It owns:
//   - record batches (magic 2): header parsing and validation without decompression (batch.go),
//     and a record reader for tools and compaction (record_reader.go);
//   - segments: `<base offset, 20 digits>.log`, the sparse `.index` and the `.timeindex`. The
//     indexes live in memory and their files are opened only to load or write them. A `.log`
//     file stays open while its segment is active, not yet below the recovery point, or being
//     read; cold segments are closed by the Manager's idle sweep and at open, and opened again
//     under the Log's mutex when read (segment.file). A broker's descriptors therefore follow its
//     partitions and its readers, not every segment on disk;
//   - the partition Log: append (offsets assigned under the log's mutex, one write per batch set,
//     only base offset and leader epoch rewritten), reads of whole batches across segments —
//     ReadRecords returns them as ranges of the segment files for sendfile, each holding its
//     file open by reference (records.go) so deletion or close never pulls the bytes from under a
//     pending send, and truncation in place is detectable (FileSlice.Intact) —, truncation,
//     DeleteRecords, offset-for-timestamp, the leader-epoch cache;
//   - idempotent-producer state and Kafka's `.snapshot` files (producer_state.go); a snapshot
//     keeps one batch per producer, as Kafka's does, and a state loaded from one gets its last
//     five batches back from the log just before it (log_truncate.go), so a leader elected right
//     after its restart still answers a retried in-flight batch as a duplicate;
//   - the Manager: log.dirs, meta.properties, the recovery-point / log-start-offset /
//     replication-offset checkpoints, crash recovery, retention (time and size only with
//     cleanup.policy delete), flush, delayed deletion;
//   - the log cleaner (cleaner.go): compaction of logs whose cleanup.policy has compact, Kafka's
//     LogCleaner — a fixed-memory key => offset map (offset_map.go), the recopy of segments keeping
//     each key's latest record and each producer's last batch, re-compression with the batch's
//     codec (cleaner_records.go), the crash-safe `.cleaned` → `.swap` → live swap and its recovery
//     at open (log_clean.go), and `cleaner-offset-checkpoint` (cleaner_checkpoint.go).
//   - disk failures as Kafka treats them (KIP-112, log_dir.go): an I/O error in an append, the
//     flush or roll it causes, a flush, a checkpoint or the leader-epoch file takes that log
//     directory offline for the life of the process. The failed append is undone first — log
//     end, producer state, epochs, segments and the bytes in the file are as before it — so
//     nothing after the last good batch is ever read, replicated or acknowledged; it answers
//     ErrStorage (KAFKA_STORAGE_ERROR), and so does every later append or flush of a log in that
//     directory, without touching the disk. The Manager reports the directory once on
//     DirFailures; TakeDirOffline closes its logs without a write and keeps it out of checkpoints,
//     placement and the clean-shutdown marker, so the next start recovers it.
//
// It must not touch anything above it: no networking, no ZooKeeper, no Kafka error codes (errors
// are sentinel values that broker/api maps). It imports nothing else of the project except its
// own vfs seam.
//
// Goroutines: the Manager's loops (retention, flush, checkpoints, removal of `.deleted` files
// past file.delete.delay.ms, closing idle segment files) and log.cleaner.threads cleaner goroutines, all started by
// Manager.Start and stopped by Manager.Close (one stop channel, one WaitGroup); a Log's
// background fsync of a rolled segment (Log.Close waits for it); the removal of a deleted log's
// directory (Manager.Close waits for it).
//
// Locks, in order (docs/locking.md): logCleaner.mu → Manager.mu → Log.mu. Each Log's mutex guards
// its segments, offsets, epoch cache and producer state; readers hold it only to capture a view
// and a reference on each file they will read, and then read without it. The cleaner holds Log.mu only to capture the segments it will
// read (and the cleanable range) and to swap a cleaned segment in — renames and a directory fsync;
// it reads old segments and writes and fsyncs the new one without it, so appends and fetches wait
// on the cleaner for no longer than a segment swap. Segments below the active one never change in
// place, which is what makes that safe: the swap checks, under Log.mu, that the segments it
// replaces are still the log's, unchanged, and otherwise drops the round. logCleaner.mu guards
// which logs are being cleaned and the checkpoints; no I/O on a produce or fetch path runs under
// it.
package log
