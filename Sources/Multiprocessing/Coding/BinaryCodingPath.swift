/// A value's encoder or decoder in ``BinaryEncoder`` and ``BinaryDecoder``, linked to its
/// parent's: the coding path is made from these links only when asked for (an error, or a
/// conformance that reads it), not copied into every nested value.
protocol BinaryCodingPathNode: AnyObject {
  var parent: Self? { get }
  var key: (any CodingKey)? { get }
}

extension BinaryCodingPathNode {
  /// The coding path, with `key` after it when there is one.
  func path(adding key: (any CodingKey)?) -> [any CodingKey] {
    var path = parent?.path(adding: self.key) ?? (self.key.map { [$0] } ?? [])
    if let key { path.append(key) }
    return path
  }
}
