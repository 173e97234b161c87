import Atomics
import Foundation

/// A `Codable` value in shared memory that every process holding it reads as it is now: the
/// way to hand a pool's kernel each call's own data — this iteration's centroids, this step's
/// number — without rebuilding the pool, and to change what already-forked workers see.
///
/// The value is stored encoded (``BinaryEncoder``), with a version. ``update(_:)`` writes a
/// new one; ``value`` returns the current one, decoded once per version in each process and
/// kept (a read of an unchanged value costs two atomic loads). Readers never block a writer
/// and never see a half-written value; writers take the state's own lock.
///
/// ```swift
/// let centroids = try SharedState([Point](repeating: .zero, count: 8))
/// let pool = try ProcessPool<Int, Int> { index in nearest(points[index], in: centroids.value) }
/// for _ in 0..<20 {
///   let labels = try pool.map(Array(points.indices))   // every worker sees this step's centroids
///   try centroids.update(recentred(points, labels))
/// }
/// ```
public final class SharedState<Value: Codable>: @unchecked Sendable {
  // @unchecked: the shared bytes are read under the version protocol (a seqlock) and written
  // under `lock`; the decoded copy is swapped atomically.

  /// What another process needs to reopen the state.
  public struct Handle: Codable, Sendable, Hashable {
    let memory: SharedMemory.Handle
    let lock: SharedHandle
  }

  /// A decoded value and the version it was decoded from.
  private final class Decoded: AtomicReference, @unchecked Sendable {
    // @unchecked: immutable once made; `value` is only read.
    let version: UInt64
    let value: Value
    init(version: UInt64, value: Value) {
      self.version = version
      self.value = value
    }
  }

  /// Header: the version (odd while a write is under way), then the encoded length.
  private static var headerSize: Int { 64 }

  private let memory: SharedMemory
  private let lock: Lock
  private let decoded = ManagedAtomic<Decoded?>(nil)
  /// The largest encoded value the state holds, in bytes.
  public let capacity: Int

  private var version: UnsafeAtomic<UInt64> {
    UnsafeAtomic(at: memory.baseAddress.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
  }
  private var length: UnsafeMutableRawPointer { memory.baseAddress + 8 }
  private var bytes: UnsafeMutableRawPointer { memory.baseAddress + Self.headerSize }

  /// A state holding `value`, with room for `capacity` bytes of encoded value (address
  /// space only until written).
  ///
  /// - Throws: ``SharedMemoryError`` when the block cannot be made, `EncodingError` for a
  ///   value that cannot be encoded or is larger than `capacity`.
  public init(_ value: Value, capacity: Int = 1 << 20) throws {
    self.capacity = capacity
    memory = try SharedMemory(size: Self.headerSize + max(1, capacity))
    lock = try Lock()
    try update(value)
  }

  /// Reopens a state from its ``handle`` (in a spawned or fork-server child).
  public init(_ handle: Handle) throws {
    memory = try SharedMemory(handle.memory)
    lock = try Lock(handle.lock)
    capacity = memory.size - Self.headerSize
  }

  /// What another process needs to reopen the state.
  public var handle: Handle { Handle(memory: memory.handle, lock: lock.handle) }

  /// The value as it is now.
  ///
  /// - Precondition: the shared bytes decode as `Value` (they always do unless another
  ///   process wrote them as another type through a handle).
  public var value: Value {
    while true {
      let current = version.load(ordering: .acquiring)
      if let kept = decoded.load(ordering: .acquiring), kept.version == current { return kept.value }
      guard current & 1 == 0 else { continue }  // a write is under way
      let count = length.load(as: Int.self)
      let copy = Data(bytes: bytes, count: min(max(count, 0), capacity))
      // The copy is whole only if no write began meanwhile.
      atomicMemoryFence(ordering: .acquiring)
      guard version.load(ordering: .relaxed) == current else { continue }
      do {
        let value = try BinaryDecoder().decode(Value.self, from: copy)
        decoded.store(Decoded(version: current, value: value), ordering: .releasing)
        return value
      } catch {
        preconditionFailure("SharedState<\(Value.self)> holds bytes that do not decode: \(error)")
      }
    }
  }

  /// Replaces the value; every process sees the new one from its next read of ``value``.
  ///
  /// - Throws: `EncodingError` for a value that cannot be encoded or whose encoding is
  ///   larger than ``capacity`` (the old value stays), or what the state's lock throws.
  public func update(_ newValue: Value) throws {
    let encoded = try BinaryEncoder().encode(newValue)
    guard encoded.count <= capacity else {
      throw EncodingError.invalidValue(
        newValue,
        .init(codingPath: [], debugDescription: "\(encoded.count) bytes is over the state's capacity of \(capacity)"))
    }
    let written = try lock.withLock {
      let current = version.load(ordering: .relaxed)
      version.store(current &+ 1, ordering: .relaxed)  // odd: readers wait
      atomicMemoryFence(ordering: .releasing)
      encoded.copyBytes(to: UnsafeMutableRawBufferPointer(start: bytes, count: encoded.count))
      length.storeBytes(of: encoded.count, as: Int.self)
      version.store(current &+ 2, ordering: .releasing)
      return current &+ 2
    }
    // Kept under the version written: a later write by another process has a higher one.
    decoded.store(Decoded(version: written, value: newValue), ordering: .releasing)
  }
}
