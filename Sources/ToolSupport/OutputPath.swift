import ArgumentParser
import Foundation

/// A file a command will write when it is done, checked before it starts: a run of minutes
/// must not end in "no such directory".
package enum OutputPath {
  /// Throws a `ValidationError` naming `option` unless `path`'s directory exists and is
  /// writable.
  package static func checkWritable(_ path: String, option: String) throws {
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw ValidationError("\(option) \(path): the directory \(directory) does not exist")
    }
    guard FileManager.default.isWritableFile(atPath: directory) else {
      throw ValidationError("\(option) \(path): the directory \(directory) is not writable")
    }
  }
}
