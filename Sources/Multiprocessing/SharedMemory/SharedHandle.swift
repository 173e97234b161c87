/// How another process reopens a shared object (a ``Lock``, ``SharedValue``, …): pass it in
/// an entry point's arguments and call the type's `init(_ handle:)` in the child.
public struct SharedHandle: Codable, Sendable, Hashable {
  /// The block that holds the object.
  public let memory: SharedMemory.Handle
  /// Where the object starts in the block.
  public let offset: Int
  /// The object's type, checked when it is reopened.
  public let kind: String
}
