import Testing
@testable import VigilPosix

@Test func systemErrorNamesTheCall() {
    #expect(SystemError("bind", errno: 98).description.hasPrefix("bind: "))
}
