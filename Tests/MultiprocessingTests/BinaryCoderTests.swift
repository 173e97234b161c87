import Foundation
import Multiprocessing
import Testing

/// BinaryEncoder and BinaryDecoder: every shape Codable produces round-trips, keys may be
/// read in any order, and bad bytes or types fail with errors that say where and what.
@Suite(.timeLimit(.minutes(3))) struct BinaryCoderTests {
  enum Shape: Codable, Equatable {
    case point
    case circle(radius: Double)
    case polygon([Int], closed: Bool)
  }

  enum Colour: String, Codable {
    case red, green
  }

  struct Inner: Codable, Equatable {
    var name: String
    var tags: Set<String>
    var maybe: Int?
  }

  struct Everything: Codable, Equatable {
    var text = "héllo, wörld ✓"
    var empty = ""
    var int = Int.min
    var uint = UInt.max
    var signed: (Int8, Int16, Int32, Int64) = (-8, -16, -32, .min)
    var unsigned: (UInt8, UInt16, UInt32, UInt64) = (8, 16, 32, .max)
    var double = -0.0
    var infinity = Double.infinity
    var float: Float = 1.5
    var flag = true
    var data = Data([0, 1, 2, 255])
    var noData = Data()
    var date = Date(timeIntervalSinceReferenceDate: 123_456.789)
    var url = URL(string: "https://example.com/a?b=c")!
    var absent: String? = nil
    var present: String? = "here"
    var optionals: [Int?] = [1, nil, 3]
    var byName: [String: Int] = ["a": 1, "b": 2]
    var byNumber: [Int: String] = [1: "one", 2: "two"]
    var nested: [[Inner]] = [[Inner(name: "x", tags: ["p", "q"], maybe: nil)], []]
    var shapes: [Shape] = [.point, .circle(radius: 2), .polygon([1, 2, 3], closed: true)]
    var colour = Colour.green
    /// What the decoding container said: contains `text`, contains `absent`, how many keys.
    var seen: (text: Bool, absent: Bool, keys: Int)? = nil

    enum CodingKeys: String, CodingKey {
      case text, empty, int, uint, small0, small1, small2, small3, small4, small5, small6, small7, double, infinity,
        float, flag, data, noData, date, url, absent, present, optionals, byName, byNumber, nested, shapes, colour
    }

    init() {}

    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      // Read backwards: the decoder must find keys anywhere, not only in the order written.
      colour = try container.decode(Colour.self, forKey: .colour)
      shapes = try container.decode([Shape].self, forKey: .shapes)
      nested = try container.decode([[Inner]].self, forKey: .nested)
      byNumber = try container.decode([Int: String].self, forKey: .byNumber)
      byName = try container.decode([String: Int].self, forKey: .byName)
      optionals = try container.decode([Int?].self, forKey: .optionals)
      present = try container.decodeIfPresent(String.self, forKey: .present)
      absent = try container.decodeIfPresent(String.self, forKey: .absent)
      url = try container.decode(URL.self, forKey: .url)
      date = try container.decode(Date.self, forKey: .date)
      noData = try container.decode(Data.self, forKey: .noData)
      data = try container.decode(Data.self, forKey: .data)
      flag = try container.decode(Bool.self, forKey: .flag)
      float = try container.decode(Float.self, forKey: .float)
      infinity = try container.decode(Double.self, forKey: .infinity)
      double = try container.decode(Double.self, forKey: .double)
      signed = (
        try container.decode(Int8.self, forKey: .small0), try container.decode(Int16.self, forKey: .small2),
        try container.decode(Int32.self, forKey: .small4), try container.decode(Int64.self, forKey: .small6)
      )
      unsigned = (
        try container.decode(UInt8.self, forKey: .small1), try container.decode(UInt16.self, forKey: .small3),
        try container.decode(UInt32.self, forKey: .small5), try container.decode(UInt64.self, forKey: .small7)
      )
      uint = try container.decode(UInt.self, forKey: .uint)
      int = try container.decode(Int.self, forKey: .int)
      empty = try container.decode(String.self, forKey: .empty)
      text = try container.decode(String.self, forKey: .text)
      seen = (container.contains(.text), container.contains(.absent), container.allKeys.count)
    }

    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(text, forKey: .text)
      try container.encode(empty, forKey: .empty)
      try container.encode(int, forKey: .int)
      try container.encode(uint, forKey: .uint)
      try container.encode(signed.0, forKey: .small0)
      try container.encode(unsigned.0, forKey: .small1)
      try container.encode(signed.1, forKey: .small2)
      try container.encode(unsigned.1, forKey: .small3)
      try container.encode(signed.2, forKey: .small4)
      try container.encode(unsigned.2, forKey: .small5)
      try container.encode(signed.3, forKey: .small6)
      try container.encode(unsigned.3, forKey: .small7)
      try container.encode(double, forKey: .double)
      try container.encode(infinity, forKey: .infinity)
      try container.encode(float, forKey: .float)
      try container.encode(flag, forKey: .flag)
      try container.encode(data, forKey: .data)
      try container.encode(noData, forKey: .noData)
      try container.encode(date, forKey: .date)
      try container.encode(url, forKey: .url)
      try container.encodeIfPresent(absent, forKey: .absent)
      try container.encodeIfPresent(present, forKey: .present)
      try container.encode(optionals, forKey: .optionals)
      try container.encode(byName, forKey: .byName)
      try container.encode(byNumber, forKey: .byNumber)
      try container.encode(nested, forKey: .nested)
      try container.encode(shapes, forKey: .shapes)
      try container.encode(colour, forKey: .colour)
    }

    static func == (lhs: Everything, rhs: Everything) -> Bool {
      lhs.text == rhs.text && lhs.empty == rhs.empty && lhs.int == rhs.int && lhs.uint == rhs.uint
        && lhs.signed == rhs.signed && lhs.unsigned == rhs.unsigned
        && lhs.double.bitPattern == rhs.double.bitPattern && lhs.infinity == rhs.infinity
        && lhs.float == rhs.float && lhs.flag == rhs.flag && lhs.data == rhs.data && lhs.noData == rhs.noData
        && lhs.date == rhs.date && lhs.url == rhs.url && lhs.absent == rhs.absent && lhs.present == rhs.present
        && lhs.optionals == rhs.optionals && lhs.byName == rhs.byName && lhs.byNumber == rhs.byNumber
        && lhs.nested == rhs.nested && lhs.shapes == rhs.shapes && lhs.colour == rhs.colour
    }
  }

  class Animal: Codable {
    var legs: Int
    init(legs: Int) { self.legs = legs }
  }

  /// Shares its superclass's keyed container, as most subclasses do.
  final class Dog: Animal {
    var name: String
    init(name: String, legs: Int) {
      self.name = name
      super.init(legs: legs)
    }
    enum CodingKeys: String, CodingKey { case name }
    required init(from decoder: any Decoder) throws {
      name = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .name)
      try super.init(from: decoder)
    }
    override func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(name, forKey: .name)
      try super.encode(to: encoder)
    }
  }

  /// Puts its superclass under the "super" key, which its own keys do not name.
  final class Bird: Animal {
    var wings: Int
    init(wings: Int, legs: Int) {
      self.wings = wings
      super.init(legs: legs)
    }
    enum CodingKeys: String, CodingKey { case wings }
    required init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      wings = try container.decode(Int.self, forKey: .wings)
      try super.init(from: container.superDecoder())
    }
    override func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(wings, forKey: .wings)
      try super.encode(to: container.superEncoder())
    }
  }

  @Test func everyShapeRoundTrips() throws {
    let value = Everything()
    let bytes = try BinaryEncoder().encode(value)
    let decoded = try BinaryDecoder().decode(Everything.self, from: bytes)
    #expect(decoded == value)
    let seen = try #require(decoded.seen)
    #expect(seen.text && !seen.absent && seen.keys == Everything.CodingKeys.allKeysWritten)
    // Top-level primitives and collections too.
    #expect(try BinaryDecoder().decode(String.self, from: BinaryEncoder().encode("top")) == "top")
    #expect(try BinaryDecoder().decode([Int?].self, from: BinaryEncoder().encode([nil, 7])) == [nil, 7])
    #expect(try BinaryDecoder().decode(Int?.self, from: BinaryEncoder().encode(Int?.none)) == nil)
  }

  @Test func subclassesRoundTrip() throws {
    let dog = try BinaryDecoder().decode(Dog.self, from: BinaryEncoder().encode(Dog(name: "Rex", legs: 4)))
    #expect(dog.name == "Rex" && dog.legs == 4)
    let bird = try BinaryDecoder().decode(Bird.self, from: BinaryEncoder().encode(Bird(wings: 2, legs: 2)))
    #expect(bird.wings == 2 && bird.legs == 2)
  }

  /// Arrays of strings take a shortcut on both sides; the bytes are those of the general
  /// path, so either side may take either.
  @Test func stringArraysMatchTheGeneralPath() throws {
    let encoder = BinaryEncoder()
    let decoder = BinaryDecoder()
    let words = ["", "ünïcode", String(repeating: "x", count: 1000)]
    #expect(try decoder.decode([String].self, from: encoder.encode(words)) == words)
    #expect(try decoder.decode([String?].self, from: encoder.encode(words)) == words)
    #expect(try decoder.decode([String].self, from: encoder.encode(words as [String?])) == words)
    let optionals: [Int?] = [1, nil, 3]
    #expect(try decoder.decode([Int?].self, from: encoder.encode(optionals)) == optionals)
  }

  /// A plain struct: trivially copyable, so an array of it travels as its memory.
  struct Pixel: Codable, Equatable, BitwiseCopyable {
    var red: UInt8, green: UInt8, blue: UInt8
    var depth: Float
  }

  /// A struct holding a run, to show that runs nest.
  struct Row: Codable, Equatable {
    var index: Int
    var bytes: [UInt8]
    var pixels: ContiguousArray<Pixel>
    var weights: [Double]
  }

  /// Arrays of trivially-copyable elements, whatever the element, are one counted run of
  /// bytes: a 2,000-byte row costs 2,000 bytes and a header, not a tag and 8 bytes per byte.
  @Test func trivialArraysTravelAsTheirBytes() throws {
    let encoder = BinaryEncoder()
    let decoder = BinaryDecoder()
    let row = (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    let encoded = try encoder.encode(row)
    #expect(encoded.count == row.count + 10)
    #expect(try decoder.decode([UInt8].self, from: encoded) == row)
    #expect(try encoder.encode(Data(row)).count == row.count + 5, "the same row as Data, for scale")

    let numbers = [Int.min, -1, 0, 1, .max]
    #expect(try encoder.encode(numbers).count == 8 * numbers.count + 10)
    #expect(try decoder.decode([Int].self, from: encoder.encode(numbers)) == numbers)
    let reals = [[0.5, -2.0], [], [.infinity]]
    #expect(try decoder.decode([[Double]].self, from: encoder.encode(reals)) == reals)
    let floats: [Float] = [1.5, -0.25, .nan]
    let back = try decoder.decode([Float].self, from: encoder.encode(floats))
    #expect(back.map(\.bitPattern) == floats.map(\.bitPattern), "the exact bits, NaN included")
    #expect(try decoder.decode([Bool].self, from: encoder.encode([true, false])) == [true, false])
    #expect(try decoder.decode([Int32].self, from: encoder.encode([Int32](repeating: -3, count: 0))) == [])

    let nested = Row(
      index: 7, bytes: row,
      pixels: [Pixel(red: 1, green: 2, blue: 3, depth: 0.5), Pixel(red: 9, green: 8, blue: 7, depth: -1)],
      weights: [0.25, 4])
    let nestedBytes = try encoder.encode([nested, nested])
    #expect(try decoder.decode([Row].self, from: nestedBytes) == [nested, nested])
    #expect(nestedBytes.count < 2 * (row.count + 200), "the row inside a struct is a run too")
  }

  /// `Data` and `[UInt8]` read each other; a run read as elements of another kind or size is
  /// refused with a message naming both, never reinterpreted.
  @Test func runsDecodeOnlyAsTheirOwnElements() throws {
    let encoder = BinaryEncoder()
    let decoder = BinaryDecoder()
    #expect(try decoder.decode([UInt8].self, from: encoder.encode(Data([1, 2, 3]))) == [1, 2, 3])
    #expect(try decoder.decode(Data.self, from: encoder.encode([UInt8]([4, 5]))) == Data([4, 5]))
    #expect {
      try decoder.decode([Double].self, from: encoder.encode([1, 2]))
    } throws: { error in
      guard case DecodingError.typeMismatch(_, let context) = error else { return false }
      return context.debugDescription.hasPrefix("expected Array<Double>, found an array of 8-byte signed integers")
    }
    #expect(throws: DecodingError.self) { try decoder.decode([Int16].self, from: encoder.encode([1, 2])) }
    #expect(throws: DecodingError.self) { try decoder.decode([Int?].self, from: encoder.encode([1, 2])) }
    var damaged = try encoder.encode([Int32(1), 2])
    damaged[2] = 3  // a stride of 3 bytes: no whole number of elements
    #expect(throws: DecodingError.self) { try decoder.decode([Int32].self, from: damaged) }
  }

  @Test func numbersConvertWhereTheyFit() throws {
    #expect(try BinaryDecoder().decode(UInt8.self, from: BinaryEncoder().encode(200)) == 200)
    #expect(try BinaryDecoder().decode(Double.self, from: BinaryEncoder().encode(3)) == 3.0)
    #expect(try BinaryDecoder().decode(Double.self, from: BinaryEncoder().encode(Float(0.25))) == 0.25)
    #expect {
      try BinaryDecoder().decode(UInt8.self, from: BinaryEncoder().encode(300))
    } throws: { error in
      guard case DecodingError.dataCorrupted(let context) = error else { return false }
      return context.debugDescription == "300 does not fit in UInt8"
    }
  }

  @Test func wideIntegersRoundTripAndNarrowOnesStayShort() throws {
    let wide: [Int128] = [.min, -3, Int128(Int64.max) + 1, .max]
    #expect(try BinaryDecoder().decode([Int128].self, from: BinaryEncoder().encode(wide)) == wide)
    let unsigned: [UInt128] = [0, UInt128(UInt64.max) + 1, .max]
    #expect(try BinaryDecoder().decode([UInt128].self, from: BinaryEncoder().encode(unsigned)) == unsigned)
    #expect(try BinaryEncoder().encode(Int128(-3)) == BinaryEncoder().encode(-3), "within 64 bits: the same bytes")
    #expect(try BinaryDecoder().decode(Int.self, from: BinaryEncoder().encode(Int128(42))) == 42)
    #expect(throws: DecodingError.self) {
      try BinaryDecoder().decode(Int64.self, from: BinaryEncoder().encode(Int128.max))
    }
  }

  /// A type that encodes itself as a single value of its own type (expecting the coder to
  /// know it) is refused, not recursed into forever.
  @Test func aTypeThatEncodesAsItselfIsRefused() throws {
    // Not trivially copyable (an array of such a type would travel as its bytes, its own
    // `encode(to:)` never called).
    struct Itself: Codable {
      var name = ""
      init() {}
      init(from decoder: any Decoder) throws { self = try decoder.singleValueContainer().decode(Itself.self) }
      func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self)
      }
    }
    #expect {
      try BinaryEncoder().encode([Itself()])
    } throws: { error in
      guard case EncodingError.invalidValue(_, let context) = error else { return false }
      return context.debugDescription.contains("no form for Itself") && context.codingPath.first?.intValue == 0
    }
    #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Itself.self, from: BinaryEncoder().encode(1)) }
  }

  @Test func badInputFailsWithAnErrorThatSaysWhereAndWhat() throws {
    struct Pair: Codable { var first: Int; var second: String }
    struct Other: Codable { var first: Int; var third: String }
    let bytes = try BinaryEncoder().encode(Pair(first: 1, second: "two"))

    #expect {
      try BinaryDecoder().decode(Pair.self, from: bytes.prefix(bytes.count - 2))
    } throws: { error in
      guard case DecodingError.dataCorrupted(let context) = error else { return false }
      return context.debugDescription.contains("the data ends")
    }
    #expect {
      try BinaryDecoder().decode(Pair.self, from: bytes + [0])
    } throws: { error in
      guard case DecodingError.dataCorrupted(let context) = error else { return false }
      return context.debugDescription == "1 bytes follow the encoded value"
    }
    #expect {
      try BinaryDecoder().decode(Other.self, from: bytes)
    } throws: { error in
      guard case DecodingError.keyNotFound(let key, _) = error else { return false }
      return key.stringValue == "third"
    }
    #expect {
      try BinaryDecoder().decode([String: [String]].self, from: BinaryEncoder().encode(["k": [[1]]]))
    } throws: { error in
      guard case DecodingError.typeMismatch(_, let context) = error else { return false }
      return context.codingPath.map(\.stringValue) == ["k", "Index 0"]
    }
    #expect {
      try BinaryDecoder().decode([Int].self, from: BinaryEncoder().encode([1, nil]))
    } throws: { error in
      guard case DecodingError.typeMismatch(_, let context) = error else { return false }
      return context.debugDescription.contains("found an array of 16-byte values")
    }
    #expect {
      try BinaryDecoder().decode([String].self, from: BinaryEncoder().encode(["a", nil]))
    } throws: { error in
      guard case DecodingError.valueNotFound = error else { return false }
      return true
    }
    #expect {
      try BinaryDecoder().decode(Int.self, from: Data([42]))
    } throws: { error in
      guard case DecodingError.dataCorrupted(let context) = error else { return false }
      return context.debugDescription == "unknown tag 42 at byte 0"
    }
    #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Int.self, from: Data()) }
  }

  @Test func aContainerWrittenAfterItsParentMovedOnIsRefused() throws {
    struct OutOfOrder: Encodable {
      enum Keys: String, CodingKey { case a, b }
      func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        var early = container.nestedUnkeyedContainer(forKey: .a)
        try container.encode(1, forKey: .b)
        try early.encode(2)
      }
    }
    #expect {
      try BinaryEncoder().encode(OutOfOrder())
    } throws: { error in
      guard case EncodingError.invalidValue(_, let context) = error else { return false }
      return context.debugDescription.contains("depth-first") && context.codingPath.first?.stringValue == "a"
    }
  }
}

extension BinaryCoderTests.Everything.CodingKeys {
  /// Every key but `absent` (nil, and so not written).
  static var allKeysWritten: Int { 27 }
}

extension BinaryCoderTests {
  /// Damaged bytes (every truncation, random bytes overwritten) decode to a value or throw a
  /// `DecodingError`: never a crash, a hang or a huge allocation.
  @Test func damagedBytesThrowInsteadOfCrashing() throws {
    let original = try BinaryEncoder().encode(Everything())
    var generator = SplitMix(state: 42)
    var thrown = 0
    func attempt(_ bytes: Data) {
      do {
        _ = try BinaryDecoder().decode(Everything.self, from: bytes)
      } catch is DecodingError {
        thrown += 1
      } catch {
        Issue.record("not a DecodingError: \(error)")
      }
    }
    for length in 0..<original.count { attempt(original.prefix(length)) }
    #expect(thrown == original.count, "every truncation is refused")
    for _ in 0..<3000 {
      var damaged = original
      for _ in 0...(generator.next() % 4) {
        let position = Int(generator.next() % UInt64(damaged.count))
        damaged[damaged.startIndex + position] = UInt8(truncatingIfNeeded: generator.next())
      }
      attempt(damaged)
    }
    #expect(thrown > original.count + 1000, "most damage is noticed")
  }

  struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }
}
