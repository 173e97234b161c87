import Foundation

/// Decodes `Decodable` values from the binary form that ``BinaryEncoder`` writes.
///
/// Keys are looked up in the order they were written first (one comparison when a conformance
/// decodes in the order it encoded, as synthesised ones do), then anywhere in the container.
/// Integers convert to any integer type they fit, and numbers to `Double` and `Float`.
public struct BinaryDecoder: Sendable {
  /// A decoder.
  public init() {}

  /// Decodes a `T` from `data`.
  ///
  /// - Throws: `DecodingError` naming where and what went wrong: truncated or corrupt bytes,
  ///   bytes left after the value, a missing key, a null or a value of another type.
  public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
    try data.withUnsafeBytes { try decode(type, from: $0) }
  }

  /// Decodes a `T` from `bytes`.
  func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
    let reader = BinaryReader(bytes)
    let end = try reader.end(ofValueAt: 0, path: [])
    guard end == bytes.count else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: [], debugDescription: "\(bytes.count - end) bytes follow the encoded value"))
    }
    return try reader.read(type, at: 0, parent: nil, key: nil)
  }
}

/// The bytes of one decoding, and how to read values from them.
final class BinaryReader {
  let bytes: UnsafeRawBufferPointer

  init(_ bytes: UnsafeRawBufferPointer) {
    self.bytes = bytes
  }

  func corrupted(_ message: String, _ path: [any CodingKey]) -> DecodingError {
    .dataCorrupted(.init(codingPath: path, debugDescription: message))
  }

  func tag(at offset: Int, path: @autoclosure () -> [any CodingKey]) throws -> BinaryTag {
    guard offset < bytes.count else { throw corrupted("the data ends before a value", path()) }
    guard let tag = BinaryTag(rawValue: bytes[offset]) else {
      throw corrupted("unknown tag \(bytes[offset]) at byte \(offset)", path())
    }
    return tag
  }

  func load<I: FixedWidthInteger>(_ type: I.Type, at offset: Int, path: @autoclosure () -> [any CodingKey]) throws
    -> I
  {
    guard offset + MemoryLayout<I>.size <= bytes.count else { throw corrupted("the data ends inside a value", path()) }
    return I(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: I.self))
  }

  /// The offset just past the value at `offset`.
  func end(ofValueAt offset: Int, path: @autoclosure () -> [any CodingKey]) throws -> Int {
    let end: Int
    switch try tag(at: offset, path: path()) {
    case .null, .falseValue, .trueValue: end = offset + 1
    case .signed, .unsigned, .double: end = offset + 9
    case .signed128, .unsigned128: end = offset + 17
    case .float: end = offset + 5
    case .string, .bytes: end = offset + 5 + Int(try load(UInt32.self, at: offset + 1, path: path()))
    case .run: end = offset + BinaryTag.runHeaderSize + Int(try load(UInt32.self, at: offset + 6, path: path()))
    case .unkeyed, .keyed:
      end = offset + BinaryTag.containerHeaderSize + Int(try load(UInt32.self, at: offset + 5, path: path()))
    }
    guard end <= bytes.count else { throw corrupted("the data ends inside a value", path()) }
    return end
  }

  /// The error for a value of the wrong kind: `valueNotFound` for a null, else `typeMismatch`.
  func mismatch(_ type: Any.Type, found tag: BinaryTag, path: [any CodingKey]) -> DecodingError {
    if tag == .null {
      return .valueNotFound(type, .init(codingPath: path, debugDescription: "expected \(type), found null"))
    }
    return .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type), found \(tag)"))
  }

  /// Reads a `T` at `offset`: the common primitive types directly, others through
  /// `init(from:)`.
  func read<T: Decodable>(_ type: T.Type, at offset: Int, parent: BinaryValueDecoder?, key: (any CodingKey)?) throws
    -> T
  {
    if let value = try readPrimitive(type, at: offset, path: parent?.path(adding: key) ?? []) { return value }
    // `[Int]` (every child's identity) is known without the cast below, whose first use in a
    // process scans every conformance record of the program (a spawned child's start).
    if T.self == [Int].self, let run = try readRun([Int].self, at: offset, path: parent?.path(adding: key) ?? []) {
      return unsafeBitCast(run, to: T.self)
    }
    if BinaryRunTypes.mayBeRun(T.self), let runType = T.self as? any BinaryElementRun.Type,
      let run = try readRun(runType, at: offset, path: parent?.path(adding: key) ?? [])
    {
      return run as! T  // swift-format-ignore: NeverForceUnwrap (`runType` is `T`)
    }
    return try T(from: BinaryValueDecoder(reader: self, parent: parent, key: key, offset: offset, valueType: T.self))
  }

  /// Reads `T` when it is a primitive type; nil for other types. Types are compared by
  /// metatype, and the value read reinterpreted as `T`, not cast: dynamic casts cost more
  /// than the read.
  func readPrimitive<T>(_ type: T.Type, at offset: Int, path: @autoclosure () -> [any CodingKey]) throws -> T? {
    if T.self == String.self {
      return unsafeBitCast(try readString(at: offset, path: path()), to: T.self)
    } else if T.self == Int.self {
      return unsafeBitCast(try readInteger(Int.self, at: offset, path: path()), to: T.self)
    } else if T.self == Double.self {
      return unsafeBitCast(try readDouble(at: offset, path: path()), to: T.self)
    } else if T.self == Bool.self {
      switch try tag(at: offset, path: path()) {
      case .falseValue: return unsafeBitCast(false, to: T.self)
      case .trueValue: return unsafeBitCast(true, to: T.self)
      case let other: throw mismatch(Bool.self, found: other, path: path())
      }
    } else if T.self == Data.self {
      // Data written by another encoder's conformance (an array of bytes) takes the general path.
      switch try tag(at: offset, path: path()) {
      case .bytes: return unsafeBitCast(Data(try counted(at: offset, path: path())), to: T.self)
      case .run: return unsafeBitCast(Data(try runBytes(of: [UInt8].self, at: offset, path: path())), to: T.self)
      default: return nil
      }
    } else if T.self == UInt8.self {
      return unsafeBitCast(try readInteger(UInt8.self, at: offset, path: path()), to: T.self)
    } else if T.self == Float.self {
      return unsafeBitCast(Float(try readDouble(at: offset, path: path())), to: T.self)
    } else if T.self == Int64.self {
      return unsafeBitCast(try readInteger(Int64.self, at: offset, path: path()), to: T.self)
    } else if T.self == UInt64.self {
      return unsafeBitCast(try readInteger(UInt64.self, at: offset, path: path()), to: T.self)
    } else if T.self == Int32.self {
      return unsafeBitCast(try readInteger(Int32.self, at: offset, path: path()), to: T.self)
    } else if T.self == UInt32.self {
      return unsafeBitCast(try readInteger(UInt32.self, at: offset, path: path()), to: T.self)
    } else if T.self == UInt.self {
      return unsafeBitCast(try readInteger(UInt.self, at: offset, path: path()), to: T.self)
    } else if T.self == Int16.self {
      return unsafeBitCast(try readInteger(Int16.self, at: offset, path: path()), to: T.self)
    } else if T.self == UInt16.self {
      return unsafeBitCast(try readInteger(UInt16.self, at: offset, path: path()), to: T.self)
    } else if T.self == Int8.self {
      return unsafeBitCast(try readInteger(Int8.self, at: offset, path: path()), to: T.self)
    } else if T.self == Int128.self {
      return unsafeBitCast(try readInteger(Int128.self, at: offset, path: path()), to: T.self)
    } else if T.self == UInt128.self {
      return unsafeBitCast(try readInteger(UInt128.self, at: offset, path: path()), to: T.self)
    } else if T.self == [String].self {
      return unsafeBitCast(try readArray(String.self, at: offset, path: path()), to: T.self)
    }
    return nil
  }

  /// Reads an array of trivially-copyable elements from a run of their bytes, or from `Data`'s
  /// bytes for `[UInt8]`; nil when the elements are not trivially copyable or the value is
  /// another kind of container (read element by element).
  private func readRun<Run: BinaryElementRun>(
    _ type: Run.Type, at offset: Int, path: @autoclosure () -> [any CodingKey]
  ) throws -> Run? {
    guard Run.elementsAreBits else { return nil }
    switch try tag(at: offset, path: path()) {
    case .run:
      return Run(elementBytes: try runBytes(of: type, at: offset, path: path()))
    case .bytes where Run.elementKind == .unsigned && Run.elementStride == 1:
      return Run(elementBytes: try counted(at: offset, path: path()))
    default:
      return nil
    }
  }

  /// The element bytes of the run at `offset`, checked to be elements of `type`.
  func runBytes<Run: BinaryElementRun>(of type: Run.Type, at offset: Int, path: @autoclosure () -> [any CodingKey])
    throws -> UnsafeRawBufferPointer
  {
    let stride = Int(try load(UInt32.self, at: offset + 2, path: path()))
    let count = Int(try load(UInt32.self, at: offset + 6, path: path()))
    let kind = BinaryRunKind(rawValue: bytes[offset + 1]) ?? .other
    let start = offset + BinaryTag.runHeaderSize
    guard start + count <= bytes.count else { throw corrupted("the data ends inside a value", path()) }
    guard kind == Run.elementKind, stride == Run.elementStride else {
      throw DecodingError.typeMismatch(
        type,
        .init(
          codingPath: path(),
          debugDescription:
            "expected \(type), found an array of \(kind.describe(stride: stride)): an array of trivially-copyable elements decodes only as elements of the same kind and size"
        ))
    }
    guard stride > 0, count % stride == 0 else {
      throw corrupted("a run of \(count) bytes is not a whole number of \(stride)-byte elements", path())
    }
    return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)])
  }

  /// Reads an array of a primitive type from an unkeyed container, without a decoder per value.
  private func readArray<Element>(_ type: Element.Type, at offset: Int, path: @autoclosure () -> [any CodingKey])
    throws -> [Element]
  {
    let (count, start, end) = try container(.unkeyed, at: offset, path: path())
    var values: [Element] = []
    values.reserveCapacity(count)
    var position = start
    for index in 0..<count {
      guard position < end,
        let value = try readPrimitive(type, at: position, path: path() + [BinaryIndexKey(index)])
      else { throw corrupted("the data ends inside a value", path()) }
      values.append(value)
      position = try self.end(ofValueAt: position, path: path())
    }
    return values
  }

  /// The bytes of a string or `Data` value at `offset`.
  func counted(at offset: Int, path: @autoclosure () -> [any CodingKey]) throws -> UnsafeRawBufferPointer {
    let count = Int(try load(UInt32.self, at: offset + 1, path: path()))
    guard offset + 5 + count <= bytes.count else { throw corrupted("the data ends inside a value", path()) }
    return UnsafeRawBufferPointer(rebasing: bytes[(offset + 5)..<(offset + 5 + count)])
  }

  func readString(at offset: Int, path: @autoclosure () -> [any CodingKey]) throws -> String {
    let tag = try tag(at: offset, path: path())
    guard tag == .string else { throw mismatch(String.self, found: tag, path: path()) }
    return String(decoding: try counted(at: offset, path: path()), as: UTF8.self)
  }

  func readInteger<I: FixedWidthInteger>(_ type: I.Type, at offset: Int, path: @autoclosure () -> [any CodingKey])
    throws -> I
  {
    func narrowed(_ value: some BinaryInteger) throws -> I {
      guard let converted = I(exactly: value) else { throw corrupted("\(value) does not fit in \(I.self)", path()) }
      return converted
    }
    let tag = try tag(at: offset, path: path())
    switch tag {
    case .signed: return try narrowed(try load(Int64.self, at: offset + 1, path: path()))
    case .unsigned: return try narrowed(try load(UInt64.self, at: offset + 1, path: path()))
    case .signed128: return try narrowed(try load(Int128.self, at: offset + 1, path: path()))
    case .unsigned128: return try narrowed(try load(UInt128.self, at: offset + 1, path: path()))
    default: throw mismatch(I.self, found: tag, path: path())
    }
  }

  func readDouble(at offset: Int, path: @autoclosure () -> [any CodingKey]) throws -> Double {
    switch try tag(at: offset, path: path()) {
    case .double: return Double(bitPattern: try load(UInt64.self, at: offset + 1, path: path()))
    case .float: return Double(Float(bitPattern: try load(UInt32.self, at: offset + 1, path: path())))
    case .signed: return Double(try load(Int64.self, at: offset + 1, path: path()))
    case .unsigned: return Double(try load(UInt64.self, at: offset + 1, path: path()))
    case .signed128: return Double(try load(Int128.self, at: offset + 1, path: path()))
    case .unsigned128: return Double(try load(UInt128.self, at: offset + 1, path: path()))
    case let other: throw mismatch(Double.self, found: other, path: path())
    }
  }

  /// The element count and the bounds of the elements of the container at `offset`.
  func container(_ expected: BinaryTag, at offset: Int, path: @autoclosure () -> [any CodingKey]) throws -> (
    count: Int, start: Int, end: Int
  ) {
    let tag = try tag(at: offset, path: path())
    guard tag == expected else {
      throw mismatch(expected == .keyed ? [String: Any].self : [Any].self, found: tag, path: path())
    }
    let count = Int(try load(UInt32.self, at: offset + 1, path: path()))
    let start = offset + BinaryTag.containerHeaderSize
    let end = try end(ofValueAt: offset, path: path())
    // Every element takes a byte at least (a keyed one five): a larger count is corrupt, and
    // must not size an allocation.
    guard count <= (end - start) / (expected == .keyed ? 5 : 1) else {
      throw corrupted("a container of \(end - start) bytes cannot hold \(count) elements", path())
    }
    return (count, start, end)
  }
}

/// The `Decoder` a value decodes itself from; also the node of the coding path.
final class BinaryValueDecoder: Decoder, BinaryCodingPathNode {
  let reader: BinaryReader
  let parent: BinaryValueDecoder?
  let key: (any CodingKey)?
  let offset: Int
  /// The type being decoded here (nil for a nested container's decoder).
  let valueType: Any.Type?
  /// Where the keyed container's next entry probably is (the one after the last decoded).
  // Unchecked: a decoding runs on one thread, and the checks cost more than the lookups.
  @exclusivity(unchecked) var cursor = -1

  init(
    reader: BinaryReader, parent: BinaryValueDecoder?, key: (any CodingKey)?, offset: Int, valueType: Any.Type? = nil
  ) {
    self.reader = reader
    self.parent = parent
    self.key = key
    self.offset = offset
    self.valueType = valueType
  }

  var codingPath: [any CodingKey] { path(adding: nil) }
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
    let (count, start, end) = try reader.container(.keyed, at: offset, path: codingPath)
    if cursor < 0 { cursor = start }
    let container = BinaryKeyedDecodingContainer<Key>(decoder: self, count: count, start: start, end: end)
    return KeyedDecodingContainer(container)
  }

  func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
    let (count, start, end) = try reader.container(.unkeyed, at: offset, path: codingPath)
    return BinaryUnkeyedDecodingContainer(decoder: self, count: count, position: start, end: end)
  }

  func singleValueContainer() throws -> any SingleValueDecodingContainer {
    BinarySingleValueDecodingContainer(decoder: self)
  }
}

struct BinaryKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
  let decoder: BinaryValueDecoder
  let count: Int
  let start: Int
  let end: Int

  var codingPath: [any CodingKey] { decoder.codingPath }
  private var reader: BinaryReader { decoder.reader }

  var allKeys: [Key] {
    var keys: [Key] = []
    var entry = start
    for _ in 0..<count {
      guard let (name, value) = try? entryAt(entry), let next = try? reader.end(ofValueAt: value, path: []) else {
        break
      }
      if let key = Key(stringValue: String(decoding: name, as: UTF8.self)) { keys.append(key) }
      entry = next
    }
    return keys
  }

  /// The key's bytes and the value's offset of the entry at `entry`.
  private func entryAt(_ entry: Int) throws -> (name: UnsafeRawBufferPointer, value: Int) {
    let length = Int(try reader.load(UInt32.self, at: entry, path: codingPath))
    guard entry + 4 + length < end else { throw reader.corrupted("the data ends inside a key", codingPath) }
    return (UnsafeRawBufferPointer(rebasing: reader.bytes[(entry + 4)..<(entry + 4 + length)]), entry + 4 + length)
  }

  /// The offset of `key`'s value: first where the last decoded entry ended, then anywhere.
  private func find(_ key: some CodingKey) throws -> Int? {
    var name = key.stringValue
    return try name.withUTF8 { utf8 in
      let wanted = UnsafeRawBufferPointer(utf8)
      if decoder.cursor < end {
        let (found, value) = try entryAt(decoder.cursor)
        if found.elementsEqual(wanted) { return value }
      }
      var entry = start
      for _ in 0..<count {
        let (found, value) = try entryAt(entry)
        if found.elementsEqual(wanted) { return value }
        entry = try reader.end(ofValueAt: value, path: codingPath)
      }
      return nil
    }
  }

  private func require(_ key: some CodingKey) throws -> Int {
    guard let value = try find(key) else {
      throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for \(key)"))
    }
    return value
  }

  func contains(_ key: Key) -> Bool {
    (try? find(key)) != nil
  }

  func decodeNil(forKey key: Key) throws -> Bool {
    try reader.tag(at: try require(key), path: codingPath) == .null
  }

  func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
    try decodeValue(at: try require(key), type, key)
  }

  func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
    guard let value = try find(key), try reader.tag(at: value, path: codingPath) != .null else { return nil }
    return try decodeValue(at: value, type, key)
  }

  private func decodeValue<T: Decodable>(at value: Int, _ type: T.Type, _ key: Key) throws -> T {
    let decoded = try reader.read(type, at: value, parent: decoder, key: key)
    decoder.cursor = try reader.end(ofValueAt: value, path: codingPath)
    return decoded
  }

  func nestedContainer<NestedKey: CodingKey>(
    keyedBy type: NestedKey.Type, forKey key: Key
  ) throws -> KeyedDecodingContainer<NestedKey> {
    try nestedDecoder(key).container(keyedBy: type)
  }

  func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
    try nestedDecoder(key).unkeyedContainer()
  }

  func superDecoder() throws -> any Decoder {
    // By name, as `superEncoder()` wrote it: `Key` need not have a case for it.
    try nestedDecoder(BinarySuperKey())
  }

  func superDecoder(forKey key: Key) throws -> any Decoder {
    try nestedDecoder(key)
  }

  private func nestedDecoder(_ key: some CodingKey) throws -> BinaryValueDecoder {
    let value = try require(key)
    decoder.cursor = try reader.end(ofValueAt: value, path: codingPath)
    return BinaryValueDecoder(reader: reader, parent: decoder, key: key, offset: value)
  }
}

struct BinaryUnkeyedDecodingContainer: UnkeyedDecodingContainer {
  let decoder: BinaryValueDecoder
  let count: Int?
  private(set) var currentIndex = 0
  private var position: Int
  private let end: Int

  init(decoder: BinaryValueDecoder, count: Int, position: Int, end: Int) {
    self.decoder = decoder
    self.count = count
    self.position = position
    self.end = end
  }

  var codingPath: [any CodingKey] { decoder.codingPath }
  var isAtEnd: Bool { currentIndex >= count ?? 0 || position >= end }

  /// Fails when there is no element left.
  private func checkNotAtEnd(_ type: Any.Type) throws {
    guard !isAtEnd else {
      throw DecodingError.valueNotFound(
        type,
        .init(
          codingPath: decoder.path(adding: BinaryIndexKey(currentIndex)),
          debugDescription: "the unkeyed container has no element left"))
    }
  }

  /// Moves past the current element.
  private mutating func advance() throws {
    position = try decoder.reader.end(ofValueAt: position, path: codingPath)
    currentIndex += 1
  }

  mutating func decodeNil() throws -> Bool {
    try checkNotAtEnd(Never?.self)
    guard try decoder.reader.tag(at: position, path: codingPath) == .null else { return false }
    try advance()
    return true
  }

  mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
    try checkNotAtEnd(type)
    let value = try decoder.reader.read(type, at: position, parent: decoder, key: BinaryIndexKey(currentIndex))
    try advance()
    return value
  }

  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<
    NestedKey
  > {
    try nestedDecoder(type).container(keyedBy: type)
  }

  mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
    try nestedDecoder([Any].self).unkeyedContainer()
  }

  mutating func superDecoder() throws -> any Decoder {
    try nestedDecoder(Any.self)
  }

  private mutating func nestedDecoder(_ type: Any.Type) throws -> BinaryValueDecoder {
    try checkNotAtEnd(type)
    let nested = BinaryValueDecoder(
      reader: decoder.reader, parent: decoder, key: BinaryIndexKey(currentIndex), offset: position)
    try advance()
    return nested
  }
}

struct BinarySingleValueDecodingContainer: SingleValueDecodingContainer {
  let decoder: BinaryValueDecoder

  var codingPath: [any CodingKey] { decoder.codingPath }

  func decodeNil() -> Bool {
    (try? decoder.reader.tag(at: decoder.offset, path: codingPath)) == .null
  }

  func decode<T: Decodable>(_ type: T.Type) throws -> T {
    // See BinaryValueEncoder.writeSingle: a type decoding itself as itself would never end.
    guard decoder.valueType != T.self else {
      throw DecodingError.typeMismatch(
        type, .init(codingPath: codingPath, debugDescription: "BinaryDecoder has no form for \(T.self)"))
    }
    return try decoder.reader.read(type, at: decoder.offset, parent: decoder.parent, key: decoder.key)
  }
}
