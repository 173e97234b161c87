/// Keeps an object alive inside a value that is encoded, compared and hashed as if it were
/// not there: what lets a handle hold the block or connection it names, so that its
/// descriptors stay open in the process that made it for as long as the handle lives (in a
/// child's arguments, say).
///
/// It encodes as an empty value and decodes as an empty keeper: the object stays in the
/// process that made the handle.
struct ObjectKeeper: Codable, Hashable, Sendable {
  let object: (AnyObject & Sendable)?

  init(_ object: (AnyObject & Sendable)?) {
    self.object = object
  }

  init(from decoder: any Decoder) throws {
    object = nil
  }

  func encode(to encoder: any Encoder) throws {}

  static func == (lhs: ObjectKeeper, rhs: ObjectKeeper) -> Bool { true }

  func hash(into hasher: inout Hasher) {}
}
