import Testing

@testable import mpload

/// The live display's first line: how far the run is, and how much is left.
@Suite struct LiveDisplayTests {
  @Test func progressSaysElapsedAndLeft() {
    #expect(
      LiveDisplay.progress(elapsed: .seconds(12), duration: .seconds(30))
        == "mpload: 12.0 s elapsed, 18.0 s left of 30.0 s")
    #expect(
      LiveDisplay.progress(elapsed: .milliseconds(31_500), duration: .seconds(30))
        == "mpload: 31.5 s elapsed, 0.0 s left of 30.0 s")
    #expect(
      LiveDisplay.progress(elapsed: .seconds(5), duration: nil) == "mpload: 5.0 s elapsed (until stopped: Ctrl-C)")
  }
}
