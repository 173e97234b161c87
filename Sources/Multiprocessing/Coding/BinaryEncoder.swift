import Foundation

/// Encodes `Encodable` values in a compact binary form, for ``BinaryDecoder``: what
/// ``ByteRing`` and the process pool send `Codable` values as.
///
/// Numbers and strings are written as they are in memory (no formatting or escaping), and
/// keyed containers keep their keys, so that any conformance that JSON round-trips does too —
/// as long as it fills its containers depth-first, as synthesised conformances do: a container
/// written to after the encoding moved on to its parent's next element is an error.
///
/// ```swift
/// let bytes = try BinaryEncoder().encode(["a": [1, 2], "b": [3]])
/// let back = try BinaryDecoder().decode([String: [Int]].self, from: bytes)
/// ```
public struct BinaryEncoder: Sendable {
  /// An encoder.
  public init() {}

  /// The binary form of `value`.
  ///
  /// - Throws: `EncodingError.invalidValue` for a container written out of order or a string,
  ///   `Data` or container over 4 GiB, or what `value`'s own encoding throws.
  public func encode<T: Encodable>(_ value: T) throws -> Data {
    Data(try encodeBytes(value))
  }

  /// The binary form of `value`, as an array of bytes.
  func encodeBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
    let writer = BinaryWriter()
    try writer.write(value, parent: nil, key: nil)
    if let failure = writer.failure { throw failure }
    return writer.bytes
  }
}

/// Where a container sits on the writer's stack of open containers.
struct BinaryContainerID {
  let level: Int
  let id: Int
}

/// The state of one encoding: the bytes so far and the containers still open, whose element
/// counts and lengths are written when they close.
final class BinaryWriter {
  private struct OpenContainer {
    let header: Int
    var count: UInt32
    let id: Int
  }

  // Unchecked: an encoding runs on one thread, and dynamic exclusivity checks on these cost
  // more than the writes themselves.
  @exclusivity(unchecked) var bytes: [UInt8] = []
  /// The first misuse seen where it could not be thrown (a container cannot throw when made).
  @exclusivity(unchecked) var failure: EncodingError?
  @exclusivity(unchecked) private var open: [OpenContainer] = []
  @exclusivity(unchecked) private var lastID = 0
  /// Where a value handed out by `superEncoder` must start, until one is written there.
  @exclusivity(unchecked) private var pendingValue: Int?

  init() {
    bytes.reserveCapacity(256)
  }

  func append(_ tag: BinaryTag) {
    bytes.append(tag.rawValue)
  }

  func append<I: FixedWidthInteger>(raw value: I) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  /// A `UInt32` byte count and the bytes.
  func appendCounted(_ source: UnsafeRawBufferPointer, path: @autoclosure () -> [any CodingKey]) throws {
    guard source.count <= Int(UInt32.max) else {
      throw EncodingError.invalidValue(
        source.count, .init(codingPath: path(), debugDescription: "\(source.count) bytes is over the 4 GiB limit"))
    }
    append(raw: UInt32(source.count))
    bytes.append(contentsOf: source)
  }

  func appendKey(_ key: some CodingKey, path: @autoclosure () -> [any CodingKey]) throws {
    var name = key.stringValue
    try name.withUTF8 { try appendCounted(UnsafeRawBufferPointer($0), path: path()) }
  }

  /// Opens a container at the current position.
  func openContainer(_ tag: BinaryTag) -> BinaryContainerID {
    pendingValue = nil
    lastID += 1
    open.append(OpenContainer(header: bytes.count, count: 0, id: lastID))
    append(tag)
    append(raw: UInt32(0))
    append(raw: UInt32(0))
    return BinaryContainerID(level: open.count - 1, id: lastID)
  }

  /// The number of elements written to `container` so far.
  func count(of container: BinaryContainerID) -> Int {
    isOpen(container) ? Int(open[container.level].count) : 0
  }

  private func isOpen(_ container: BinaryContainerID) -> Bool {
    container.level < open.count && open[container.level].id == container.id
  }

  /// Starts the next element of `container`: closes what was opened inside it since, and
  /// counts the element.
  func beginElement(of container: BinaryContainerID, path: @autoclosure () -> [any CodingKey]) throws {
    guard isOpen(container) else {
      throw EncodingError.invalidValue(
        "container",
        .init(
          codingPath: path(),
          debugDescription:
            "a container was written to after the encoding moved on from it; BinaryEncoder needs containers filled depth-first"
        ))
    }
    try close(downTo: container.level + 1)
    open[container.level].count += 1
  }

  /// Closes the containers above `level`, writing their counts and lengths.
  func close(downTo level: Int) throws {
    if let pending = pendingValue, bytes.count == pending { append(.null) }
    pendingValue = nil
    while open.count > level {
      let container = open.removeLast()
      let length = bytes.count - container.header - BinaryTag.containerHeaderSize
      guard length <= Int(UInt32.max) else {
        throw EncodingError.invalidValue(
          length, .init(codingPath: [], debugDescription: "a container of \(length) bytes is over the 4 GiB limit"))
      }
      bytes.withUnsafeMutableBytes { buffer in
        buffer.storeBytes(of: container.count.littleEndian, toByteOffset: container.header + 1, as: UInt32.self)
        buffer.storeBytes(of: UInt32(length).littleEndian, toByteOffset: container.header + 5, as: UInt32.self)
      }
    }
  }

  /// Keeps `error` to throw at the end of the encoding, unless an earlier one is kept.
  func record(_ error: EncodingError) {
    if failure == nil { failure = error }
  }

  /// Marks the current position as one where a value must be written (by whoever uses a
  /// super encoder); a null takes its place if none is.
  func expectValue() {
    pendingValue = bytes.count
  }

  /// Writes `value`: the common primitive types directly, others through `encode(to:)`.
  func write<T: Encodable>(_ value: T, parent: BinaryValueEncoder?, key: (any CodingKey)?) throws {
    pendingValue = nil
    if try writePrimitive(value, path: parent?.path(adding: key) ?? []) { return }
    // `[Int]` without the cast below, as ``BinaryDecoder`` reads it.
    if T.self == [Int].self, try writeRun(unsafeBitCast(value, to: [Int].self), path: parent?.path(adding: key) ?? []) {
      return
    }
    if BinaryRunTypes.mayBeRun(T.self), let run = value as? any BinaryElementRun,
      try writeRun(run, path: parent?.path(adding: key) ?? [])
    {
      return
    }
    let start = bytes.count
    let level = open.count
    try value.encode(to: BinaryValueEncoder(writer: self, parent: parent, key: key, position: start, valueType: T.self))
    if bytes.count == start {
      // A value that wrote nothing: an empty keyed container, as JSON has `{}`.
      _ = openContainer(.keyed)
    }
    try close(downTo: level)
  }

  /// Writes `value` when it is of a primitive type. Types are compared by metatype, and a
  /// value of a matching one reinterpreted, not cast: dynamic casts cost more than the write.
  func writePrimitive<T>(_ value: T, path: @autoclosure () -> [any CodingKey]) throws -> Bool {
    if T.self == String.self {
      var string = unsafeBitCast(value, to: String.self)
      append(.string)
      try string.withUTF8 { try appendCounted(UnsafeRawBufferPointer($0), path: path()) }
    } else if T.self == Int.self {
      signed(unsafeBitCast(value, to: Int.self))
    } else if T.self == Double.self {
      append(.double)
      append(raw: unsafeBitCast(value, to: Double.self).bitPattern)
    } else if T.self == Bool.self {
      append(unsafeBitCast(value, to: Bool.self) ? .trueValue : .falseValue)
    } else if T.self == Data.self {
      append(.bytes)
      try unsafeBitCast(value, to: Data.self).withUnsafeBytes { try appendCounted($0, path: path()) }
    } else if T.self == UInt8.self {
      unsigned(unsafeBitCast(value, to: UInt8.self))
    } else if T.self == Float.self {
      append(.float)
      append(raw: unsafeBitCast(value, to: Float.self).bitPattern)
    } else if T.self == Int64.self {
      signed(unsafeBitCast(value, to: Int64.self))
    } else if T.self == UInt64.self {
      unsigned(unsafeBitCast(value, to: UInt64.self))
    } else if T.self == Int32.self {
      signed(unsafeBitCast(value, to: Int32.self))
    } else if T.self == UInt32.self {
      unsigned(unsafeBitCast(value, to: UInt32.self))
    } else if T.self == UInt.self {
      unsigned(unsafeBitCast(value, to: UInt.self))
    } else if T.self == Int16.self {
      signed(unsafeBitCast(value, to: Int16.self))
    } else if T.self == UInt16.self {
      unsigned(unsafeBitCast(value, to: UInt16.self))
    } else if T.self == Int8.self {
      signed(unsafeBitCast(value, to: Int8.self))
    } else if T.self == Int128.self {
      let value = unsafeBitCast(value, to: Int128.self)
      if let narrow = Int64(exactly: value) {
        signed(narrow)
      } else {
        append(.signed128)
        append(raw: value)
      }
    } else if T.self == UInt128.self {
      let value = unsafeBitCast(value, to: UInt128.self)
      if let narrow = UInt64(exactly: value) {
        unsigned(narrow)
      } else {
        append(.unsigned128)
        append(raw: value)
      }
    } else if T.self == [String].self {
      try writeArray(unsafeBitCast(value, to: [String].self)) { _ = try writePrimitive($0, path: path()) }
    } else {
      return false
    }
    return true
  }

  /// Writes an array of trivially-copyable elements as one run of their bytes; false, writing
  /// nothing, for other elements.
  private func writeRun<Run: BinaryElementRun>(_ run: Run, path: @autoclosure () -> [any CodingKey]) throws -> Bool {
    guard Run.elementsAreBits else { return false }
    append(.run)
    bytes.append(Run.elementKind.rawValue)
    append(raw: UInt32(Run.elementStride))
    try run.withElementBytes { try appendCounted($0, path: path()) }
    return true
  }

  /// Writes an array of a primitive type as an unkeyed container, without an encoder per value.
  private func writeArray<Element>(_ values: [Element], element: (Element) throws -> Void) throws {
    let container = openContainer(.unkeyed)
    for value in values { try element(value) }
    open[container.level].count = UInt32(truncatingIfNeeded: values.count)
    try close(downTo: container.level)
  }

  private func signed(_ value: some FixedWidthInteger) {
    append(.signed)
    append(raw: Int64(value))
  }

  private func unsigned(_ value: some FixedWidthInteger) {
    append(.unsigned)
    append(raw: UInt64(value))
  }
}

/// The `Encoder` a value encodes itself to; also the node of the coding path.
final class BinaryValueEncoder: Encoder, BinaryCodingPathNode {
  let writer: BinaryWriter
  let parent: BinaryValueEncoder?
  let key: (any CodingKey)?
  /// Where this value starts.
  let position: Int
  /// The type being encoded here (nil for a nested container's encoder).
  let valueType: Any.Type?
  // Unchecked: as the writer's state.
  @exclusivity(unchecked) private var keyed: BinaryContainerID?
  @exclusivity(unchecked) private var claimed = false

  init(
    writer: BinaryWriter, parent: BinaryValueEncoder?, key: (any CodingKey)?, position: Int, valueType: Any.Type? = nil
  ) {
    self.writer = writer
    self.parent = parent
    self.key = key
    self.position = position
    self.valueType = valueType
  }

  var codingPath: [any CodingKey] { path(adding: nil) }
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  /// Takes the value's place for a container or a single value: only once, and only while
  /// the writer is still there.
  private func claim() {
    if claimed || writer.bytes.count != position {
      writer.record(
        EncodingError.invalidValue(
          "value",
          .init(
            codingPath: codingPath,
            debugDescription:
              "a value was encoded twice, or after the encoding moved on from it; BinaryEncoder needs values written depth-first"
          )))
    }
    claimed = true
  }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    // A class and its superclass both ask for the keyed container of one value: they share it.
    let container: BinaryContainerID
    if let keyed {
      container = keyed
    } else {
      claim()
      container = writer.openContainer(.keyed)
      keyed = container
    }
    return KeyedEncodingContainer(BinaryKeyedEncodingContainer<Key>(encoder: self, container: container))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    claim()
    return BinaryUnkeyedEncodingContainer(encoder: self, container: writer.openContainer(.unkeyed))
  }

  func singleValueContainer() -> any SingleValueEncodingContainer {
    BinarySingleValueEncodingContainer(encoder: self)
  }

  /// Writes this value as a single value.
  func writeSingle<T: Encodable>(_ value: T) throws {
    // A type that encodes itself as a single value of its own type expects the encoder to
    // know it (as JSONEncoder knows a few); going round again would never end.
    guard valueType != T.self else {
      throw EncodingError.invalidValue(
        value, .init(codingPath: codingPath, debugDescription: "BinaryEncoder has no form for \(T.self)"))
    }
    claim()
    try writer.write(value, parent: parent, key: key)
  }

  func writeNull() {
    claim()
    writer.append(.null)
  }
}

/// A key for an unkeyed container's element (its index), in coding paths.
struct BinaryIndexKey: CodingKey {
  let intValue: Int?
  var stringValue: String { "Index \(intValue ?? 0)" }

  init(_ index: Int) { intValue = index }
  init?(stringValue: String) { nil }
  init?(intValue: Int) { self.intValue = intValue }
}

/// The key a keyed container's `superEncoder()` and `superDecoder()` use.
struct BinarySuperKey: CodingKey {
  var stringValue: String { "super" }
  var intValue: Int? { nil }

  init() {}
  init?(stringValue: String) { nil }
  init?(intValue: Int) { nil }
}

struct BinaryKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let encoder: BinaryValueEncoder
  let container: BinaryContainerID

  var codingPath: [any CodingKey] { encoder.codingPath }

  private func begin(_ key: some CodingKey) throws {
    try encoder.writer.beginElement(of: container, path: encoder.path(adding: key))
    try encoder.writer.appendKey(key, path: encoder.path(adding: key))
  }

  mutating func encodeNil(forKey key: Key) throws {
    try begin(key)
    encoder.writer.append(.null)
  }

  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    try begin(key)
    try encoder.writer.write(value, parent: encoder, key: key)
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    nestedEncoder(key).container(keyedBy: keyType)
  }

  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    nestedEncoder(key).unkeyedContainer()
  }

  mutating func superEncoder() -> any Encoder {
    nestedEncoder(BinarySuperKey(), expectingValue: true)
  }

  mutating func superEncoder(forKey key: Key) -> any Encoder {
    nestedEncoder(key, expectingValue: true)
  }

  /// Starts the element for `key` and returns the encoder of its value.
  private func nestedEncoder(_ key: some CodingKey, expectingValue: Bool = false) -> BinaryValueEncoder {
    do {
      try begin(key)
    } catch let error as EncodingError {
      encoder.writer.record(error)
    } catch {}
    let nested = BinaryValueEncoder(
      writer: encoder.writer, parent: encoder, key: key, position: encoder.writer.bytes.count)
    if expectingValue { encoder.writer.expectValue() }
    return nested
  }
}

struct BinaryUnkeyedEncodingContainer: UnkeyedEncodingContainer {
  let encoder: BinaryValueEncoder
  let container: BinaryContainerID

  var codingPath: [any CodingKey] { encoder.codingPath }
  var count: Int { encoder.writer.count(of: container) }

  private func begin() throws -> BinaryIndexKey {
    let key = BinaryIndexKey(count)
    try encoder.writer.beginElement(of: container, path: encoder.path(adding: key))
    return key
  }

  mutating func encodeNil() throws {
    _ = try begin()
    encoder.writer.append(.null)
  }

  mutating func encode<T: Encodable>(_ value: T) throws {
    let key = try begin()
    try encoder.writer.write(value, parent: encoder, key: key)
  }

  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
    NestedKey
  > {
    nestedEncoder().container(keyedBy: keyType)
  }

  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    nestedEncoder().unkeyedContainer()
  }

  mutating func superEncoder() -> any Encoder {
    let nested = nestedEncoder()
    encoder.writer.expectValue()
    return nested
  }

  /// Starts the next element and returns the encoder of its value.
  private func nestedEncoder() -> BinaryValueEncoder {
    var key = BinaryIndexKey(count)
    do {
      key = try begin()
    } catch let error as EncodingError {
      encoder.writer.record(error)
    } catch {}
    return BinaryValueEncoder(writer: encoder.writer, parent: encoder, key: key, position: encoder.writer.bytes.count)
  }
}

struct BinarySingleValueEncodingContainer: SingleValueEncodingContainer {
  let encoder: BinaryValueEncoder

  var codingPath: [any CodingKey] { encoder.codingPath }

  mutating func encodeNil() throws {
    encoder.writeNull()
  }

  mutating func encode<T: Encodable>(_ value: T) throws {
    try encoder.writeSingle(value)
  }
}
