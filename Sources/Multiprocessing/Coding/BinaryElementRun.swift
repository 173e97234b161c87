/// A contiguous array whose elements, when trivially copyable, travel as their memory: one
/// counted run of bytes instead of a tagged value per element.
///
/// ``BinaryEncoder`` and ``BinaryDecoder`` look for it on every value that is not one of their
/// primitive types, so `[UInt8]`, `[Float]`, `[Int32]` and arrays of plain structs move at
/// memory speed wherever they sit: a pool's input or output, or a field of a `Codable` struct.
/// The elements' own `encode(to:)` and `init(from:)` are not called: the receiver gets the
/// sender's bits, which is exact between processes of one program.
protocol BinaryElementRun {
  /// Whether the elements are trivially copyable, so that their bytes are their value.
  static var elementsAreBits: Bool { get }
  /// What the elements are, to refuse decoding them as something else of the same size.
  static var elementKind: BinaryRunKind { get }
  /// The distance in bytes from one element to the next.
  static var elementStride: Int { get }
  /// Calls `body` with the bytes of the elements.
  func withElementBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
  /// The array whose elements are these bytes (a whole number of strides).
  init(elementBytes: UnsafeRawBufferPointer)
}

/// Which types can be runs, told without asking the runtime.
///
/// Only `Array` and `ContiguousArray` conform to ``BinaryElementRun``, but a cast to the
/// protocol that fails (a struct, an enum, any other Codable type) makes the Swift runtime scan
/// every conformance record of the program, once per type and process: 7,164 records in
/// mpbench, and 14 of the 62 scans a process's first pool made. A type's metadata says what it
/// is: a struct's (kind 0x200) holds its nominal type descriptor next, which every `Array<E>`
/// shares (likewise `ContiguousArray`); both are read from the metadata the compiler emits,
/// which is the Swift ABI's layout.
enum BinaryRunTypes {
  /// Struct metadata's kind (`MetadataKind::Struct`).
  private static let structKind: UInt = 0x200

  /// `type`'s nominal type descriptor when it is a struct; nil otherwise.
  private static func structDescriptor(_ type: Any.Type) -> UInt? {
    let words = unsafeBitCast(type, to: UnsafePointer<UInt>.self)
    return words[0] == structKind ? words[1] : nil
  }

  private static let array = structDescriptor([UInt8].self)
  private static let contiguousArray = structDescriptor(ContiguousArray<UInt8>.self)

  /// Whether `type` is an `Array` or a `ContiguousArray`: the types worth casting to
  /// ``BinaryElementRun``.
  @inline(__always)
  static func mayBeRun<T>(_ type: T.Type) -> Bool {
    guard let descriptor = structDescriptor(type) else { return false }
    return descriptor == array || descriptor == contiguousArray
  }
}

/// What the elements of a run are: a number of a family that ``BinaryRunKind/of(_:)`` knows,
/// or some other trivially-copyable type (checked by size only).
enum BinaryRunKind: UInt8 {
  case other = 0
  case signed
  case unsigned
  case floatingPoint
  case boolean

  /// The kind of `type`'s values: the common element types by metatype (a comparison), the
  /// others by dynamic cast (which costs about a hundred times more).
  static func of<T>(_ type: T.Type) -> BinaryRunKind {
    if T.self == UInt8.self || T.self == UInt.self || T.self == UInt32.self || T.self == UInt64.self
      || T.self == UInt16.self
    {
      return .unsigned
    }
    if T.self == Int.self || T.self == Int32.self || T.self == Int64.self || T.self == Int16.self
      || T.self == Int8.self
    {
      return .signed
    }
    if T.self == Double.self || T.self == Float.self { return .floatingPoint }
    if T.self == Bool.self { return .boolean }
    switch type {
    case is any SignedInteger.Type: return .signed
    case is any UnsignedInteger.Type: return .unsigned
    case is any BinaryFloatingPoint.Type: return .floatingPoint
    default: return .other
    }
  }

  /// How a message names an element of this kind and stride.
  func describe(stride: Int) -> String {
    switch self {
    case .other: "\(stride)-byte values"
    case .signed: "\(stride)-byte signed integers"
    case .unsigned: "\(stride)-byte unsigned integers"
    case .floatingPoint: "\(stride)-byte floating-point numbers"
    case .boolean: "booleans"
    }
  }
}

/// An array that keeps its elements in one block: what the run's implementation needs.
protocol ContiguousElements: BinaryElementRun, RandomAccessCollection {
  init(
    unsafeUninitializedCapacity: Int,
    initializingWith initializer: (inout UnsafeMutableBufferPointer<Element>, inout Int) throws -> Void
  ) rethrows
  func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension ContiguousElements {
  static var elementsAreBits: Bool { _isPOD(Element.self) }
  static var elementKind: BinaryRunKind { BinaryRunKind.of(Element.self) }
  static var elementStride: Int { MemoryLayout<Element>.stride }

  func withElementBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try withUnsafeBytes(body)
  }

  init(elementBytes: UnsafeRawBufferPointer) {
    let count = elementBytes.count / MemoryLayout<Element>.stride
    self.init(unsafeUninitializedCapacity: count) { buffer, initialized in
      if count > 0 { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: elementBytes) }
      initialized = count
    }
  }
}

extension Array: ContiguousElements {}
extension ContiguousArray: ContiguousElements {}
