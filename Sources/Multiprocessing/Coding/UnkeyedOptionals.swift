extension UnkeyedEncodingContainer {
  /// Encodes `value`, or a nil when it is absent: what `decodeIfPresent` reads back, without
  /// going through `Optional`'s own generic conformance (for the library's types coded as
  /// their fields in order).
  package mutating func encodePresent<T: Encodable>(_ value: T?) throws {
    if let value { try encode(value) } else { try encodeNil() }
  }
}
