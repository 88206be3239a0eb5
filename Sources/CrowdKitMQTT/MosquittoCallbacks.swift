import CMosquitto

// libmosquitto calls these on its network thread. They are file-scope, nonisolated functions (a
// closure literal from isolated code crashes when called from a foreign thread on this
// toolchain) and find their ClientCore through the user-data pointer, never a global.

func mqttOnConnect(_ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?, _ rc: Int32) {
    guard let obj else { return }
    Unmanaged<ClientCore>.fromOpaque(obj).takeUnretainedValue().didConnect(mosq: mosq, rc: rc)
}

func mqttOnDisconnect(_ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?, _ rc: Int32) {
    guard let obj else { return }
    Unmanaged<ClientCore>.fromOpaque(obj).takeUnretainedValue().didDisconnect(mosq: mosq, rc: rc)
}

func mqttOnSubscribe(
    _ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?, _ mid: Int32, _ count: Int32,
    _ granted: UnsafePointer<Int32>?
) {
    guard let obj else { return }
    var refused = false
    if let granted {
        for i in 0..<Int(count) where granted[i] >= 0x80 { refused = true }
    }
    Unmanaged<ClientCore>.fromOpaque(obj).takeUnretainedValue().didSubscribe(mid: mid, refused: refused)
}

func mqttOnMessage(_ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?, _ msg: UnsafePointer<mosquitto_message>?) {
    guard let obj, let msg else { return }
    Unmanaged<ClientCore>.fromOpaque(obj).takeUnretainedValue().didReceive(msg)
}

func mqttOnLog(_ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?, _ level: Int32, _ text: UnsafePointer<CChar>?) {
    guard let obj, let text else { return }
    Unmanaged<ClientCore>.fromOpaque(obj).takeUnretainedValue().didLog(level: level, text: text)
}
