/// The header both rings (``SlotRing`` and ``ByteRing``) keep at the start of their shared
/// memory, and the place of their body after it. Each hot word is on a cache line of its own:
///
/// | offset | what |
/// |---:|---|
/// | 0 | head: the producers' position (64-bit counter) |
/// | 64 | tail: the consumers' position (64-bit counter) |
/// | 128 | capacity (64-bit), mode word (32-bit, at +8), closed flag (at +12) |
/// | 192 | consumers-waiting flag, items signal, producers-waiting flag, space signal (32-bit futex words) |
/// | 256 | the body: the slots or the bytes |
@usableFromInline
struct RingHeader {
  /// Where the body starts.
  static let bodyOffset = 256

  let base: UnsafeMutableRawPointer

  init(_ base: UnsafeMutableRawPointer) { self.base = base }

  /// Writes the fixed fields of a new ring (the rest of fresh shared memory is zero).
  static func initialize(_ base: UnsafeMutableRawPointer, capacity: Int, mode: UInt32) {
    base.storeBytes(of: UInt64(capacity), toByteOffset: 128, as: UInt64.self)
    base.storeBytes(of: mode, toByteOffset: 136, as: UInt32.self)
  }

  /// The capacity, in slots or bytes.
  var capacity: Int { Int(base.load(fromByteOffset: 128, as: UInt64.self)) }
  /// The ring's mode word (what ``SlotRing/Mode-swift.enum`` it has; 0 for a ``ByteRing``).
  var mode: UInt32 { base.load(fromByteOffset: 136, as: UInt32.self) }
  /// The producers' position.
  var head: AtomicCounter { AtomicCounter(base) }
  /// The consumers' position.
  var tail: AtomicCounter { AtomicCounter(base + 64) }
  /// Non-zero once the ring is closed.
  var closedFlag: FutexWord { FutexWord(base + 140) }
  /// Set by a consumer about to sleep; the next producer to make progress clears it.
  var consumersWaiting: FutexWord { FutexWord(base + 192) }
  /// Bumped (and woken) when items arrive for a sleeping consumer.
  var itemsSignal: FutexWord { FutexWord(base + 196) }
  /// Set by a producer about to sleep; the next consumer to make progress clears it.
  var producersWaiting: FutexWord { FutexWord(base + 200) }
  /// Bumped (and woken) when room appears for a sleeping producer.
  var spaceSignal: FutexWord { FutexWord(base + 204) }
  /// The start of the body.
  var body: UnsafeMutableRawPointer { base + Self.bodyOffset }
}
