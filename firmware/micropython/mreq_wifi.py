# mreq_wifi: join the Wi-Fi network (and set the clock) from mreq_config.json, the file
# mreq-flash writes. `mreq-flash micropython --boot` calls connect() from boot.py.


def connect(config="mreq_config.json", timeout=20):
    # Returns the interface's (ip, netmask, gateway, dns), or None when the file names no
    # network or the network was not joined within timeout seconds (said on the console).
    import json
    try:
        f = open(config)
    except OSError:
        return None
    with f:
        conf = json.load(f)
    wifi = conf.get("wifi")
    if not wifi:
        return None
    import network
    import time
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    if not sta.isconnected():
        sta.connect(wifi["ssid"], wifi.get("password", ""))
        start = time.ticks_ms()
        while not sta.isconnected():
            if time.ticks_diff(time.ticks_ms(), start) > timeout * 1000:
                print("mreq_wifi: %r not joined in %d s" % (wifi["ssid"], timeout))
                return None
            time.sleep_ms(200)
    ntp = conf.get("ntp")
    if ntp:
        # https checks certificate dates: the clock must be right.
        try:
            import ntptime
            ntptime.host = ntp
            ntptime.settime()
        except Exception as e:
            print("mreq_wifi: time from %s: %s" % (ntp, e))
    return sta.ifconfig()
