import Foundation
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// A block of memory shared between processes: an anonymous memfd by default, or named
/// POSIX shared memory (`/dev/shm`) that other programs, Python's
/// `multiprocessing.shared_memory.SharedMemory` among them, can attach by name.
///
/// Forked children inherit the mapping. Spawned and fork-server children reopen the block
/// from its ``handle``, passed in an entry point's arguments; the process that hands an
/// anonymous block over must stay alive until the child has opened it (joining it is enough).
///
/// The mapping lives as long as this object. A named block created here is unlinked when
/// ``unlink()`` is called, as in Python; an anonymous block disappears with its last user.
public final class SharedMemory: @unchecked Sendable {
  // @unchecked: the fields are immutable; the memory itself is shared by design, and the
  // types built on it synchronise their access.

  /// How to find a block again from another process: what ``SharedMemory/handle`` returns.
  ///
  /// In the process that made it, a handle keeps its block (and so its descriptor) alive: a
  /// child started with a handle in its arguments can reopen the block even after the
  /// object it came from was released, for as long as its `Process` holds the arguments.
  public struct Handle: Codable, Sendable, Hashable {
    enum Source: Codable, Sendable, Hashable {
      case descriptor(pid: Int32, fd: Int32)
      case named(String)

      /// Decodes a source from its case's number and its values (see ``encode(to:)``).
      init(from decoder: any Decoder) throws {
        var fields = try decoder.unkeyedContainer()
        switch try fields.decode(Int.self) {
        case 0: self = .descriptor(pid: try fields.decode(Int32.self), fd: try fields.decode(Int32.self))
        case 1: self = .named(try fields.decode(String.self))
        case let other:
          throw DecodingError.dataCorruptedError(
            in: fields, debugDescription: "\(other) is not a shared memory source (0 or 1)")
        }
      }

      /// Encodes the source as its case's number and its values, without keys (as the
      /// handle).
      func encode(to encoder: any Encoder) throws {
        var fields = encoder.unkeyedContainer()
        switch self {
        case .descriptor(let pid, let fd):
          try fields.encode(0)
          try fields.encode(pid)
          try fields.encode(fd)
        case .named(let name):
          try fields.encode(1)
          try fields.encode(name)
        }
      }
    }

    let source: Source
    /// The block's size in bytes.
    public let size: Int
    /// The block, in the process that made the handle (see `ObjectKeeper`).
    let keeper: ObjectKeeper
  }

  /// The block's name (without the leading `/`), for named blocks; nil for anonymous ones.
  public let name: String?
  /// The size in bytes.
  public let size: Int
  /// The start of the mapping in this process. Store offsets, not pointers, in shared
  /// memory: another process maps the block elsewhere.
  public let baseAddress: UnsafeMutableRawPointer
  /// The descriptor of the block in this process (kept open while the object lives).
  public let descriptor: FileDescriptor

  /// Creates an anonymous block of `size` bytes, zero-filled.
  ///
  /// - Throws: ``SharedMemoryError/invalidSize(_:)`` or ``SharedMemoryError/system(call:errno:)``.
  public convenience init(size: Int) throws(SharedMemoryError) {
    guard size > 0 else { throw .invalidSize(size) }
    let fd: FileDescriptor
    do { fd = try SystemCall.memoryFile(named: "swift-multiprocessing") } catch {
      throw .system(call: "memfd_create", errno: error)
    }
    try self.init(descriptor: fd, name: nil, size: size, resize: true)
  }

  /// Creates a named block, exclusively, with mode 0600: Python's
  /// `SharedMemory(name, create=True, size=size)`.
  ///
  /// - Parameters:
  ///   - name: the name without the leading `/`; a random `mp-…` name when nil.
  ///   - size: the size in bytes.
  /// - Throws: ``SharedMemoryError/alreadyExists(_:)``, ``SharedMemoryError/invalidName(_:)``,
  ///   ``SharedMemoryError/invalidSize(_:)`` or ``SharedMemoryError/system(call:errno:)``.
  public static func create(name: String? = nil, size: Int) throws(SharedMemoryError) -> SharedMemory {
    guard size > 0 else { throw .invalidSize(size) }
    while true {
      let chosen =
        name ?? "mp-"
        + (0..<4).map { _ in String(UInt16.random(in: 0...UInt16.max), radix: 16) }
        .joined()
      let fd: FileDescriptor
      let valid = try validated(chosen)
      do {
        fd = try SystemCall.openSharedMemory(valid, create: true)
      } catch .fileExists {
        if name == nil { continue }
        throw .alreadyExists(chosen)
      } catch {
        throw .system(call: "shm_open(\(chosen))", errno: error)
      }
      do {
        return try SharedMemory(descriptor: fd, name: chosen, size: size, resize: true)
      } catch {
        // Dropped: the name was ours a moment ago; if it is gone, there is nothing to undo.
        try? SystemCall.unlinkSharedMemory(chosen)
        throw error
      }
    }
  }

  /// Attaches an existing named block (made here, by another process, or by Python).
  ///
  /// - Throws: ``SharedMemoryError/notFound(_:)``, ``SharedMemoryError/invalidName(_:)`` or
  ///   ``SharedMemoryError/system(call:errno:)``.
  public static func attach(name: String) throws(SharedMemoryError) -> SharedMemory {
    let fd: FileDescriptor
    let valid = try validated(name)
    do {
      fd = try SystemCall.openSharedMemory(valid, create: false)
    } catch .noSuchFileOrDirectory {
      throw .notFound(name)
    } catch {
      throw .system(call: "shm_open(\(name))", errno: error)
    }
    let size: Int
    do { size = try fd.size() } catch {
      fd.release()
      throw .system(call: "fstat", errno: error)
    }
    return try SharedMemory(descriptor: fd, name: name, size: size, resize: false)
  }

  /// Reopens a block from a ``Handle``, typically in a spawned child.
  ///
  /// - Throws: ``SharedMemoryError/cannotReopen(_:)`` when the block is gone (for an
  ///   anonymous block: when the process that handed it over has ended or closed it).
  public convenience init(_ handle: Handle) throws(SharedMemoryError) {
    switch handle.source {
    case .named(let name):
      let attached = try SharedMemory.attach(name: name)
      let fd: FileDescriptor
      do { fd = try attached.descriptor.duplicateClosingOnExec() } catch {
        throw .system(call: "fcntl(F_DUPFD_CLOEXEC)", errno: error)
      }
      try self.init(descriptor: fd, name: name, size: handle.size, resize: false)
    case .descriptor(let pid, let fd):
      let reopened: FileDescriptor
      do {
        reopened =
          pid == getpid()
          ? try FileDescriptor(rawValue: fd).duplicateClosingOnExec()
          : try FileDescriptor.openClosingOnExec(descriptor: fd, ofProcess: pid, flags: O_RDWR)
      } catch {
        throw .cannotReopen("process \(pid)'s descriptor \(fd): \(error)")
      }
      try self.init(descriptor: reopened, name: nil, size: handle.size, resize: false)
    }
  }

  private init(descriptor fd: FileDescriptor, name: String?, size: Int, resize: Bool) throws(SharedMemoryError) {
    do throws(SharedMemoryError) {
      guard size > 0 else { throw SharedMemoryError.invalidSize(size) }
      if resize {
        do { try fd.setSize(size) } catch { throw SharedMemoryError.system(call: "ftruncate", errno: error) }
      }
      do { baseAddress = try SystemCall.mapShared(fd, size: size) } catch {
        throw SharedMemoryError.system(call: "mmap", errno: error)
      }
    } catch {
      fd.release()
      throw error
    }
    self.descriptor = fd
    self.name = name
    self.size = size
  }

  deinit {
    SystemCall.unmap(baseAddress, size: size)
    descriptor.release()
  }

  /// What another process needs to reopen this block with ``init(_:)``.
  public var handle: Handle {
    Handle(
      source: name.map { .named($0) } ?? .descriptor(pid: getpid(), fd: descriptor.rawValue), size: size,
      keeper: ObjectKeeper(self))
  }

  /// The block's bytes.
  public var bytes: UnsafeMutableRawBufferPointer {
    UnsafeMutableRawBufferPointer(start: baseAddress, count: size)
  }

  /// Removes a named block's name, as Python's `unlink()`: processes that have it mapped keep
  /// it, and it is freed when the last one unmaps it.
  ///
  /// - Throws: ``SharedMemoryError/anonymous`` for an anonymous block,
  ///   ``SharedMemoryError/notFound(_:)`` when the name is already gone.
  public func unlink() throws(SharedMemoryError) {
    guard let name else { throw .anonymous }
    do { try SystemCall.unlinkSharedMemory(name) } catch .noSuchFileOrDirectory {
      throw .notFound(name)
    } catch {
      throw .system(call: "shm_unlink(\(name))", errno: error)
    }
  }

  private static func validated(_ name: String) throws(SharedMemoryError) -> String {
    guard !name.isEmpty, name.utf8.count <= 250, !name.contains("/"), !name.contains("\0") else {
      throw .invalidName(name)
    }
    return name
  }
}

extension SharedMemory.Handle {
  /// Decodes a handle from its fields in order (see ``encode(to:)``).
  public init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    source = try fields.decode(Source.self)
    size = try fields.decode(Int.self)
    keeper = ObjectKeeper(nil)
  }

  /// Encodes the handle as its fields in order, without keys: a keyed container costs a
  /// child that decodes it a scan of every conformance of the program (its key type's) and
  /// the page faults of the generic keyed code, at every pool worker's start.
  public func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    try fields.encode(source)
    try fields.encode(size)
  }
}
