import CSystemShims
import Foundation

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
  public struct Handle: Codable, Sendable, Hashable {
    enum Source: Codable, Sendable, Hashable {
      case descriptor(pid: Int32, fd: Int32)
      case named(String)
    }

    let source: Source
    /// The block's size in bytes.
    public let size: Int
  }

  /// The block's name (without the leading `/`), for named blocks; nil for anonymous ones.
  public let name: String?
  /// The size in bytes.
  public let size: Int
  /// The start of the mapping in this process. Store offsets, not pointers, in shared
  /// memory: another process maps the block elsewhere.
  public let baseAddress: UnsafeMutableRawPointer
  /// The descriptor of the block in this process (kept open while the object lives).
  public let descriptor: Int32

  /// Creates an anonymous block of `size` bytes, zero-filled.
  ///
  /// - Throws: ``SharedMemoryError/invalidSize(_:)`` or a system error.
  public convenience init(size: Int) throws {
    guard size > 0 else { throw SharedMemoryError.invalidSize(size) }
    let fd = cs_memfd_create("swift-multiprocessing", cs_MFD_CLOEXEC)
    guard fd >= 0 else { throw SharedMemoryError.system(call: "memfd_create", errno: -fd) }
    try self.init(descriptor: fd, name: nil, size: size, resize: true)
  }

  /// Creates a named block, exclusively, with mode 0600: Python's
  /// `SharedMemory(name, create=True, size=size)`.
  ///
  /// - Parameters:
  ///   - name: the name without the leading `/`; a random `mp-…` name when nil.
  ///   - size: the size in bytes.
  /// - Throws: ``SharedMemoryError/alreadyExists(_:)``, ``SharedMemoryError/invalidName(_:)``,
  ///   ``SharedMemoryError/invalidSize(_:)`` or a system error.
  public static func create(name: String? = nil, size: Int) throws -> SharedMemory {
    guard size > 0 else { throw SharedMemoryError.invalidSize(size) }
    while true {
      let chosen =
        name ?? "mp-"
        + (0..<4).map { _ in String(UInt16.random(in: 0...UInt16.max), radix: 16) }
        .joined()
      let fd = shm_open("/" + (try validated(chosen)), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
      if fd < 0 {
        if errno == EEXIST && name == nil { continue }
        if errno == EEXIST { throw SharedMemoryError.alreadyExists(chosen) }
        throw SharedMemoryError.system(call: "shm_open(\(chosen))", errno: errno)
      }
      do {
        return try SharedMemory(descriptor: fd, name: chosen, size: size, resize: true)
      } catch {
        shm_unlink("/" + chosen)
        throw error
      }
    }
  }

  /// Attaches an existing named block (made here, by another process, or by Python).
  ///
  /// - Throws: ``SharedMemoryError/notFound(_:)`` or a system error.
  public static func attach(name: String) throws -> SharedMemory {
    let fd = shm_open("/" + (try validated(name)), O_RDWR | O_CLOEXEC, 0)
    guard fd >= 0 else {
      if errno == ENOENT { throw SharedMemoryError.notFound(name) }
      throw SharedMemoryError.system(call: "shm_open(\(name))", errno: errno)
    }
    var status = stat()
    guard fstat(fd, &status) == 0 else {
      let code = errno
      close(fd)
      throw SharedMemoryError.system(call: "fstat", errno: code)
    }
    return try SharedMemory(descriptor: fd, name: name, size: Int(status.st_size), resize: false)
  }

  /// Reopens a block from a ``Handle``, typically in a spawned child.
  ///
  /// - Throws: ``SharedMemoryError/cannotReopen(_:)`` when the block is gone (for an
  ///   anonymous block: when the process that handed it over has ended or closed it).
  public convenience init(_ handle: Handle) throws {
    switch handle.source {
    case .named(let name):
      let attached = try SharedMemory.attach(name: name)
      try self.init(descriptor: dup(attached.descriptor), name: name, size: handle.size, resize: false)
    case .descriptor(let pid, let fd):
      let reopened = pid == getpid() ? dup(fd) : open("/proc/\(pid)/fd/\(fd)", O_RDWR | O_CLOEXEC)
      guard reopened >= 0 else {
        throw SharedMemoryError.cannotReopen("process \(pid)'s descriptor \(fd): \(String(cString: strerror(errno)))")
      }
      try self.init(descriptor: reopened, name: nil, size: handle.size, resize: false)
    }
  }

  private init(descriptor fd: Int32, name: String?, size: Int, resize: Bool) throws {
    if resize, ftruncate(fd, off_t(size)) != 0 {
      let code = errno
      close(fd)
      throw SharedMemoryError.system(call: "ftruncate", errno: code)
    }
    guard size > 0 else {
      close(fd)
      throw SharedMemoryError.invalidSize(size)
    }
    let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    guard let address, address != MAP_FAILED else {
      let code = errno
      close(fd)
      throw SharedMemoryError.system(call: "mmap", errno: code)
    }
    self.descriptor = fd
    self.name = name
    self.size = size
    self.baseAddress = address
  }

  deinit {
    munmap(baseAddress, size)
    close(descriptor)
  }

  /// What another process needs to reopen this block with ``init(_:)``.
  public var handle: Handle {
    Handle(source: name.map { .named($0) } ?? .descriptor(pid: getpid(), fd: descriptor), size: size)
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
  public func unlink() throws {
    guard let name else { throw SharedMemoryError.anonymous }
    guard shm_unlink("/" + name) == 0 else {
      if errno == ENOENT { throw SharedMemoryError.notFound(name) }
      throw SharedMemoryError.system(call: "shm_unlink(\(name))", errno: errno)
    }
  }

  private static func validated(_ name: String) throws -> String {
    guard !name.isEmpty, name.utf8.count <= 250, !name.contains("/"), !name.contains("\0") else {
      throw SharedMemoryError.invalidName(name)
    }
    return name
  }
}
