/// The tags of the binary form that ``BinaryEncoder`` writes and ``BinaryDecoder`` reads.
///
/// Every value is a tag byte and its payload, integers little-endian:
/// - `null`, `false`, `true`: no payload.
/// - `signed`, `unsigned`: 8 bytes (`Int64`, `UInt64`); every integer type is widened.
/// - `signed128`, `unsigned128`: 16 bytes, for an `Int128` or `UInt128` outside 64 bits.
/// - `double`: 8 bytes; `float`: 4 bytes.
/// - `string`, `bytes` (`Data`): a `UInt32` byte count, then the UTF-8 or raw bytes.
/// - `run`: an array of trivially-copyable elements (``BinaryElementRun``): a `UInt8`
///   ``BinaryRunKind``, a `UInt32` element stride, a `UInt32` byte count, then the elements'
///   memory.
/// - `unkeyed`, `keyed`: a `UInt32` element count and a `UInt32` byte length of what follows,
///   then the elements; a keyed element is its key (`UInt32` byte count, UTF-8) and its value.
///   The byte length lets a reader skip a container it does not need in one step.
enum BinaryTag: UInt8 {
  case null = 0
  case falseValue
  case trueValue
  case signed
  case unsigned
  case double
  case float
  case string
  case bytes
  case unkeyed
  case keyed
  case signed128
  case unsigned128
  case run

  /// The size of a container's header: its tag, element count and byte length.
  static let containerHeaderSize = 9
  /// The size of a run's header: its tag, kind, stride and byte count.
  static let runHeaderSize = 10
}
