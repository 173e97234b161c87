import Foundation

/// A named function a child process can run under every start method, with `Codable`
/// arguments: what a closure cannot be for ``StartMethod/spawn`` and ``StartMethod/forkserver``,
/// which start a fresh run of the program.
///
/// Declare entry points once, at the top level, and pass every one of them to
/// ``bootstrapMultiprocessing(entryPoints:managedTypes:)`` first thing in `main`:
///
/// ```swift
/// struct Job: Codable, Sendable { var units: Range<Int> }
/// let work = EntryPoint<Job>("work") { job in print(job.units.count) }
///
/// @main struct App {
///   static func main() throws {
///     bootstrapMultiprocessing(entryPoints: [work])
///     let p = Process(startMethod: .spawn, entryPoint: work, arguments: Job(units: 0..<8))
///     try p.start(); try p.join()
///   }
/// }
/// ```
public struct EntryPoint<Arguments: Codable & Sendable>: AnyEntryPoint {
  /// The name the child looks the entry point up by; unique within the program.
  public let name: String
  /// The function the child runs.
  public let body: @Sendable (Arguments) throws -> Void

  /// An entry point called `name` that runs `body`.
  public init(_ name: String, body: @escaping @Sendable (Arguments) throws -> Void) {
    self.name = name
    self.body = body
  }

  /// Decodes `arguments` and runs the body: what a spawned child does.
  public func run(encodedArguments: Data) throws {
    let arguments: Arguments
    do {
      arguments = try BinaryDecoder().decode(Arguments.self, from: encodedArguments)
    } catch {
      throw ProcessError.arguments(entryPoint: name, reason: "\(error)")
    }
    try body(arguments)
  }

  func encode(_ arguments: Arguments) throws(ProcessError) -> Data {
    do {
      return try BinaryEncoder().encode(arguments)
    } catch {
      throw .arguments(entryPoint: name, reason: "\(error)")
    }
  }
}

/// An ``EntryPoint`` of any argument type, as ``bootstrapMultiprocessing(entryPoints:managedTypes:)`` takes them.
public protocol AnyEntryPoint: Sendable {
  /// The name the child looks the entry point up by.
  var name: String { get }
  /// Decodes the arguments and runs the entry point.
  func run(encodedArguments: Data) throws
}
