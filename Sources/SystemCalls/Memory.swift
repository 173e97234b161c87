import CSystemShims
import Foundation
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

extension SystemCall {
  /// A new anonymous memory file (`memfd_create`), closed on exec.
  package static func memoryFile(named name: String) throws(Errno) -> FileDescriptor {
    FileDescriptor(rawValue: try shim { cs_memfd_create(name, cs_MFD_CLOEXEC) })
  }

  /// A memory file holding `bytes`, positioned at its start: a payload for a new process.
  package static func memoryFile(named name: String, holding bytes: Data) throws(Errno) -> FileDescriptor {
    let fd = try memoryFile(named: name)
    do {
      try fd.writeAll(bytes)
      _ = try retrying { lseek(fd.rawValue, 0, SEEK_SET) }
    } catch {
      fd.release()
      throw error
    }
    return fd
  }

  /// Opens POSIX shared memory `/name` for reading and writing (close-on-exec); with
  /// `create`, creates it exclusively with mode 0600.
  package static func openSharedMemory(_ name: String, create: Bool) throws(Errno) -> FileDescriptor {
    let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0)
    return FileDescriptor(rawValue: try retrying { shm_open("/" + name, flags, 0o600) })
  }

  /// Removes the name of POSIX shared memory `/name`.
  package static func unlinkSharedMemory(_ name: String) throws(Errno) {
    _ = try retrying { shm_unlink("/" + name) }
  }

  /// Maps `size` bytes of `fd` shared, readable and writable.
  package static func mapShared(_ fd: FileDescriptor, size: Int) throws(Errno) -> UnsafeMutableRawPointer {
    guard let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0),
      address != MAP_FAILED
    else { throw Errno(rawValue: errno) }
    return address
  }

  /// Maps the pages of `byteCount` bytes from `address` (widened to whole pages) into this
  /// process now, writable, in one call (`madvise(MADV_POPULATE_WRITE)`) rather than a fault
  /// per page on first use. A kernel older than 5.14 has no such advice: nothing is done.
  package static func populate(_ address: UnsafeMutableRawPointer, byteCount: Int) throws(Errno) {
    guard byteCount > 0 else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = Int(bitPattern: address) / page * page
    let end = (Int(bitPattern: address) + byteCount + page - 1) / page * page
    let populateWrite: Int32 = 23  // MADV_POPULATE_WRITE, which Debian 12's headers lack
    do {
      _ = try retrying { madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, populateWrite) }
    } catch .invalidArgument {
      return
    }
  }

  /// Unmaps a mapping made by ``mapShared(_:size:)``. The result is dropped: `munmap` fails
  /// only for an address or size that no mapping had, which the caller's own record rules out.
  package static func unmap(_ address: UnsafeMutableRawPointer, size: Int) {
    _ = munmap(address, size)
  }
}

extension FileDescriptor {
  /// Sets the size of the file (`ftruncate`), zero-filling what it adds.
  package func setSize(_ size: Int) throws(Errno) {
    _ = try SystemCall.retrying { ftruncate(rawValue, off_t(size)) }
  }

  /// The size of the file (`fstat`).
  package func size() throws(Errno) -> Int {
    var status = Glibc.stat()
    _ = try SystemCall.retrying { fstat(rawValue, &status) }
    return Int(status.st_size)
  }
}
