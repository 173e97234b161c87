/// A place in a shared block: the block (kept mapped) and an offset into it.
@usableFromInline struct SharedSlot: @unchecked Sendable {
  // @unchecked: the block is immutable; the bytes at the slot are synchronised by its users.
  let memory: SharedMemory
  let offset: Int
  /// The object's address in this process (kept here: no reference counting on use).
  @usableFromInline let pointer: UnsafeMutableRawPointer

  /// A new anonymous block of `size` bytes, holding one object at offset 0.
  init(size: Int) throws {
    self.init(memory: try SharedMemory(size: size), offset: 0)
  }

  init(memory: SharedMemory, offset: Int) {
    self.memory = memory
    self.offset = offset
    pointer = memory.baseAddress + offset
  }

  /// Reopens the slot a handle names, checking that it holds a `kind` of `size` bytes.
  init(_ handle: SharedHandle, kind: String, size: Int) throws {
    guard handle.kind == kind else {
      throw SharedMemoryError.cannotReopen("the handle is for a \(handle.kind), not a \(kind)")
    }
    guard handle.offset >= 0, handle.offset + size <= handle.memory.size else {
      throw SharedMemoryError.cannotReopen("the handle's offset \(handle.offset) is outside its block")
    }
    self.init(memory: try SharedMemory(handle.memory), offset: handle.offset)
  }

  func handle(kind: String) -> SharedHandle {
    SharedHandle(memory: memory.handle, offset: offset, kind: kind)
  }
}
