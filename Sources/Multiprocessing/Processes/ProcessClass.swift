import Foundation

/// Registers a `Codable` subclass of ``Process`` so that it starts with every start method:
/// Python pickles a `Process` subclass for spawn and forkserver; here the subclass is encoded
/// (its stored properties, in `BinaryEncoder`'s form) and decoded in the child, which then
/// calls its `run()`. Pass it to `bootstrapMultiprocessing(entryPoints:)` with the entry
/// points.
///
/// ```swift
/// final class Squarer: Process, Codable, @unchecked Sendable {
///   var numbers: [Int]
///   init(numbers: [Int], startMethod: StartMethod) {
///     self.numbers = numbers
///     super.init(startMethod: startMethod)
///   }
///   required init(from decoder: any Decoder) throws {
///     numbers = try decoder.singleValueContainer().decode([Int].self)
///     super.init()
///   }
///   func encode(to encoder: any Encoder) throws {
///     var container = encoder.singleValueContainer()
///     try container.encode(numbers)
///   }
///   override func run() throws { print(numbers.map { $0 * $0 }) }
/// }
/// // main: bootstrapMultiprocessing(entryPoints: [ProcessClass(Squarer.self)])
/// try Squarer(numbers: [1, 2, 3], startMethod: .spawn).start()
/// ```
///
/// The decoded object in the child has the name the parent gave the process. A forked child
/// needs no registration: it runs the object itself.
public struct ProcessClass<Subclass: Process & Codable>: AnyEntryPoint {
  /// The name children look the class up by: the type's full name.
  public let name: String

  /// Registers `type`.
  public init(_ type: Subclass.Type) {
    name = processClassName(type)
  }

  /// Decodes the subclass and runs it: what a spawned or fork-server child does.
  public func run(encodedArguments: Data) throws {
    let process = try BinaryDecoder().decode(Subclass.self, from: encodedArguments)
    process.adoptCurrentName()
    try process.run()
  }
}

/// The name a process class is registered under: its type's full name.
func processClassName(_ type: Any.Type) -> String { "process-class:" + String(reflecting: type) }
