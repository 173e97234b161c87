import Foundation
import Testing

@testable import Multiprocessing

/// The coder's look at a type before it casts to ``BinaryElementRun``: arrays of every element
/// type may be runs, and nothing else is (a cast that fails costs a scan of every conformance
/// record the first time).
@Suite struct BinaryRunTypesTests {
  struct Point: Codable { var x, y: Double }
  enum Side: Codable { case left, right }
  final class Box: Codable { var value = 0 }

  @Test func arraysOfEveryElementMayBeRunsAndNothingElse() {
    #expect(BinaryRunTypes.mayBeRun([UInt8].self))
    #expect(BinaryRunTypes.mayBeRun([Int].self))
    #expect(BinaryRunTypes.mayBeRun([String].self))
    #expect(BinaryRunTypes.mayBeRun([[Double]].self))
    #expect(BinaryRunTypes.mayBeRun([Point].self))
    #expect(BinaryRunTypes.mayBeRun(ContiguousArray<Point>.self))
    #expect(BinaryRunTypes.mayBeRun(ContiguousArray<Box>.self))

    #expect(!BinaryRunTypes.mayBeRun(Int.self))
    #expect(!BinaryRunTypes.mayBeRun(String.self))
    #expect(!BinaryRunTypes.mayBeRun(Data.self))
    #expect(!BinaryRunTypes.mayBeRun(Point.self))
    #expect(!BinaryRunTypes.mayBeRun(Side.self))
    #expect(!BinaryRunTypes.mayBeRun(Box.self))
    #expect(!BinaryRunTypes.mayBeRun([Int]?.self))
    #expect(!BinaryRunTypes.mayBeRun(ArraySlice<Int>.self))
    #expect(!BinaryRunTypes.mayBeRun(Set<Int>.self))
    #expect(!BinaryRunTypes.mayBeRun([String: Int].self))
    #expect(!BinaryRunTypes.mayBeRun((Int, Int).self))
    #expect(!BinaryRunTypes.mayBeRun(((Int) -> Int).self))
    #expect(!BinaryRunTypes.mayBeRun((any Codable).self))
  }

  /// The same answer as the cast it guards, for each of those types.
  @Test func itAgreesWithTheCast() {
    #expect(Self.agrees([UInt8].self))
    #expect(Self.agrees([Point].self))
    #expect(Self.agrees(ContiguousArray<Box>.self))
    #expect(Self.agrees(Int.self))
    #expect(Self.agrees(Data.self))
    #expect(Self.agrees(Point.self))
    #expect(Self.agrees(Side.self))
    #expect(Self.agrees(Box.self))
    #expect(Self.agrees([Int]?.self))
    #expect(Self.agrees(ArraySlice<Int>.self))
    #expect(Self.agrees(Set<Int>.self))
  }

  static func agrees<T>(_: T.Type) -> Bool {
    BinaryRunTypes.mayBeRun(T.self) == (T.self is any BinaryElementRun.Type)
  }
}
