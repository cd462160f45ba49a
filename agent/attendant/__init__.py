"""The lane's side of the attendant station: the retained lane status, the station's signed commands applied
through the session's own rules, the replies, the `omo.attendant/1` events and the lane light.

`wire` is what the lane and the station share (pure; the station imports it). `status`, `checks`, `light_rule`
and `settings` are pure rules; `link`, `publisher` and `lights` are the shell that talks MQTT, lane.db and the
light (docs/attendant.md).
"""
