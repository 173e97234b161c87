import Foundation
import Synchronization
import SystemPackage

/// The finished chunks of a ``ClusterPool`` map, appended to a file as they arrive, so that a
/// run ended by a rank's death resumes where it stopped: the next run with the same journal
/// and the same inputs loads them and hands out only the rest.
///
/// The file: a header (magic, the inputs' fingerprint, the task count), then one record per
/// chunk, its length and its results in the form a rank sends them. Records are written
/// with one `write` each and not synced: they survive the driver's process (what a rank's
/// death ends), not the machine. A record cut short by the driver's end is ignored.
final class ClusterJournal: Sendable {
  private static let magic = Array("MPJOURNAL1".utf8)
  /// Appended to by the driver's MPI thread and its local thread: one record at a time; with
  /// the tasks the journal holds, and whether it was sealed (no record is added then).
  private let file: Mutex<(descriptor: FileDescriptor, tasks: Int, sealed: Bool)>
  /// The records found when the journal was opened, in file order.
  let records: [[UInt8]]

  /// Opens the journal at `path` for a job of `count` tasks whose inputs have `fingerprint`,
  /// creating it when it does not exist.
  ///
  /// - Throws: ``ClusterError/invalidArgument(_:)`` for a journal of another job, or an
  ///   `Errno` when the file cannot be opened or read.
  init(path: String, fingerprint: UInt64, count: Int) throws {
    let header = Self.magic + ClusterMessage.bytes(words: [Int(bitPattern: UInt(fingerprint)), count], payloads: [])
    let existing = (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) } ?? []
    var records: [[UInt8]] = []
    let file: FileDescriptor
    if existing.isEmpty {
      file = try FileDescriptor.open(
        path, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite, .groupRead])
      _ = try file.writeAll(header)
    } else {
      guard existing.starts(with: header) else {
        throw ClusterError.invalidArgument(
          "the journal at \(path) was written for another job (other inputs or another count): remove it or pass another"
        )
      }
      var offset = header.count
      while offset + 8 <= existing.count {
        let length = Int(
          Int64(littleEndian: existing[offset..<offset + 8].withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }))
        guard length >= 0, offset + 8 + length <= existing.count else { break }
        records.append(Array(existing[offset + 8..<offset + 8 + length]))
        offset += 8 + length
      }
      file = try FileDescriptor.open(path, .writeOnly, options: [.closeOnExec])
      // A record cut short is dropped: the next ones go where it began.
      _ = try file.seek(offset: Int64(offset), from: .start)
      try file.resize(to: Int64(offset))
    }
    self.records = records
    self.file = Mutex((file, records.reduce(0) { $0 + Self.tasks(in: $1) }, false))
  }

  deinit { file.withLock { try? $0.descriptor.close() } }

  /// Appends a chunk's results message (nothing once sealed).
  func append(_ message: [UInt8]) throws {
    let record = ClusterMessage.bytes(words: [message.count], payloads: [message])
    try file.withLock { file in
      guard !file.sealed else { return }
      _ = try file.descriptor.writeAll(record)
      file.tasks += Self.tasks(in: message)
    }
  }

  /// Adds no more records, and says how many tasks the journal holds: what the report on an
  /// ended job states, exactly, though the driver's threads go on recording until it ends.
  func seal() -> Int {
    file.withLock { file in
      file.sealed = true
      return file.tasks
    }
  }

  /// The tasks of a results message (its third word).
  private static func tasks(in message: [UInt8]) -> Int {
    (try? ClusterMessage.split(message, words: 3).words[2]) ?? 0
  }

  /// The FNV-1a hash of `bytes`: what tells a journal's job from another.
  static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
      hash ^= UInt64(byte)
      hash &*= 0x0000_0100_0000_01b3
    }
    return hash
  }
}
