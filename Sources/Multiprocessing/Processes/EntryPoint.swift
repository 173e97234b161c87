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
///
/// The arguments must be `Codable`: the initializer requires it, not the type. A requirement
/// of the type had the Swift runtime check it, by a scan of every conformance record of the
/// program, at the first use of each `EntryPoint` type in each process: twice per argument
/// type in every spawned child's start, a tenth of a millisecond per type.
public struct EntryPoint<Arguments: Sendable>: AnyEntryPoint {
  /// The name the child looks the entry point up by; unique within the program.
  public let name: String
  /// The function the child runs.
  public let body: @Sendable (Arguments) throws -> Void
  /// The arguments' type as `Codable`: decoded through it, every entry point runs the same
  /// unspecialised decoding, which the fork server's warm-up runs for its children to
  /// inherit (a closure made in the initializer ran code specialised for the library's own
  /// sample entry point and unspecialised for the program's, which each child then built).
  private let argumentType: any (Codable & Sendable).Type
  /// The arguments' encoding, made where `Arguments: Codable` is known.
  private let encodeArguments: @Sendable (Arguments) throws -> Data

  /// An entry point called `name` that runs `body`.
  public init(_ name: String, body: @escaping @Sendable (Arguments) throws -> Void) where Arguments: Codable {
    self.name = name
    self.body = body
    argumentType = Arguments.self
    encodeArguments = { try BinaryEncoder().encode($0) }
  }

  /// Decodes `arguments` and runs the body: what a spawned child does.
  public func run(encodedArguments: Data) throws {
    let arguments: Arguments
    do {
      // The value is of `argumentType`, which is `Arguments`: the cast compares the types.
      arguments = try BinaryDecoder().decode(argumentType, from: encodedArguments) as! Arguments
    } catch {
      throw ProcessError.arguments(entryPoint: name, reason: "\(error)")
    }
    try body(arguments)
  }

  func encode(_ arguments: Arguments) throws(ProcessError) -> Data {
    do {
      return try encodeArguments(arguments)
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
  /// What a child started with `encodedArguments` runs. It is made before the fork in the
  /// process the child is forked from (a fork template, or the fork server), and in a
  /// spawned child itself. By default it runs ``run(encodedArguments:)``, which decodes the
  /// arguments in the child, where a `Decodable` conformance's effects belong; an entry
  /// point whose decoding has none may decode here, so that every child forked runs without
  /// the decoding's code (a forked child maps each piece of code it runs, a page fault each).
  func prepareRun(encodedArguments: Data) -> () throws -> Void
}

extension AnyEntryPoint {
  /// Runs ``run(encodedArguments:)`` in the child.
  public func prepareRun(encodedArguments: Data) -> () throws -> Void {
    { try run(encodedArguments: encodedArguments) }
  }
}
