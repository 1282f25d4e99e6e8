-- The request-body check of the HTTP/JSON routes, run by Envoy's Lua filter (LuaJIT) just
-- before the gRPC-JSON transcoder. The transcoder silently drops JSON fields it does not know
-- and has no option to refuse them; for a few wrong JSON types (an object as a map<string,
-- string> value) it even emits a corrupt protobuf message. This filter refuses both, naming
-- the field, with a google.rpc.Status JSON (ErrorInfo + BadRequest) built here.
--
-- registry/devstack/gateway.py renders it into the Envoy config, after a generated table
--   local SCHEMA = {messages = {...}, routes = {...}}
-- made from the descriptor set Envoy loads: for each request message, its fields (proto name,
-- json_name, kind), and for each google.api.http rule, its method, path template, gRPC method
-- and what its body holds. Edit this file, never a rendering.
--
-- What is checked (a body the check passes goes to the transcoder unchanged):
--   * the body is one JSON value (RFC 8259; no comments, single quotes, trailing commas),
--     outside the free-form values (Struct, Value, ListValue, unknown fields), which are
--     only skipped, bracket by bracket: the transcoder parses those;
--   * every key of a message object is a field of that message, by proto name or json_name;
--   * the JSON type of every field's value fits the field: object for messages, maps and
--     Struct; array for repeated fields and ListValue; string for strings and bytes; string
--     or number for numbers and enums; true/false (or a string) for bools; any value for
--     google.protobuf.Value and inside Struct/Value/ListValue; null anywhere but in a list;
--   * a route without a body (GET, DELETE) gets `{}` or nothing: the transcoder would
--     otherwise read body fields over the path and query parameters.
-- Everything else (number ranges, enum names, UTF-8, duration syntax...) is left to the
-- transcoder and the registry.

local byte, sub, find, gsub, format = string.byte, string.sub, string.find, string.gsub, string.format
local concat = table.concat

local NAMESPACE = "temporal_registry.gateway"
local MAX_VIOLATIONS = 20 -- report at most this many (the check stops there)
local MAX_DEPTH = 1000 -- bounds this parser's stack (message fields nest a few levels only)
local MAX_PATH_TOKEN = 64 -- longer keys are shortened in field paths, as the registry does

-- What a value of each field kind may be, by JSON type.
local OBJECT, ARRAY, STRING, NUMBER, BOOL, NULL = 1, 2, 3, 4, 5, 6
local ACCEPTS = {
  string = {[STRING] = true, [NULL] = true},
  number = {[NUMBER] = true, [STRING] = true, [NULL] = true},
  bool = {[BOOL] = true, [STRING] = true, [NULL] = true},
  enum = {[STRING] = true, [NUMBER] = true, [NULL] = true},
  message = {[OBJECT] = true, [NULL] = true},
  map = {[OBJECT] = true, [NULL] = true},
  list = {[ARRAY] = true, [NULL] = true},
  struct = {[OBJECT] = true, [NULL] = true},
  listvalue = {[ARRAY] = true, [NULL] = true},
  value = {[OBJECT] = true, [ARRAY] = true, [STRING] = true, [NUMBER] = true, [BOOL] = true, [NULL] = true},
  -- Duration, Timestamp: their JSON string, or (as the transcoder also takes) their fields
  wkt = {[STRING] = true, [OBJECT] = true, [NULL] = true},
  none = {[OBJECT] = true},
}
local EXPECTED = {
  string = "must be a string",
  number = "must be a number (or a string holding one)",
  bool = "must be true or false",
  enum = "must be an enum value name (or its number)",
  message = "must be an object",
  map = "must be an object",
  list = "must be an array",
  struct = "must be an object",
  listvalue = "must be an array",
  wkt = "must be a string",
}
local ANY = {k = "value"}

-- Frame modes of an open object or array (free-form ones are skipped, never opened).
local MESSAGE, MAP, LIST, NOBODY = 1, 2, 3, 4
local FREE_FORM = {value = true, struct = true, listvalue = true}

-- SCHEMA.messages, indexed: name -> {name, by_key = {key -> field}, names = {proto names}}
local MESSAGES = {}
for name, fields in pairs(SCHEMA.messages) do
  local by_key, names = {}, {}
  for _, f in ipairs(fields) do
    local spec = f[3]
    spec.n = f[1]
    by_key[f[1]] = spec
    by_key[f[2]] = spec
    names[#names + 1] = f[1]
  end
  MESSAGES[name] = {name = name, by_key = by_key, names = names}
end

-- SCHEMA.routes, compiled: {method, pattern, template, rpc, prefix, root}. A variable
-- ({name} or {name=*}) matches one path segment, an empty one too, as in the transcoder
-- (`/workflows//start` reaches StartWorkflow with an empty type, which the registry refuses
-- naming the field).
local ROUTES = {}
for _, r in ipairs(SCHEMA.routes) do
  local pattern = "^" .. gsub(gsub(r[2], "[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"), "{[^}]*}", "[^/]*") .. "$"
  ROUTES[#ROUTES + 1] = {method = r[1], pattern = pattern, template = r[2], rpc = r[3], prefix = r[4], root = r[5]}
end

local function find_route(method, path)
  local q = find(path, "?", 1, true)
  if q then
    path = sub(path, 1, q - 1)
  end
  path = gsub(path, "/+$", "") -- the transcoder ignores trailing slashes too
  for _, r in ipairs(ROUTES) do
    if r.method == method and find(path, r.pattern) then
      return r
    end
  end
  return nil
end

-- ---------------------------------------------------------------- JSON text helpers

local function utf8_clean(s)
  -- s with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD
  if not find(s, "[\128-\255]") then
    return s
  end
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = byte(s, i)
    local len, lo, hi = 0, 0x80, 0xBF
    if c < 0x80 then
      len = 1
    elseif c >= 0xC2 and c <= 0xDF then
      len = 2
    elseif c >= 0xE0 and c <= 0xEF then
      len = 3
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      len = 4
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    end
    local ok = len > 0 and i + len - 1 <= n
    for k = i + 1, i + len - 1 do
      if not ok then
        break
      end
      local b = byte(s, k)
      if k == i + 1 then
        ok = b >= lo and b <= hi
      else
        ok = b >= 0x80 and b <= 0xBF
      end
    end
    if ok then
      out[#out + 1] = sub(s, i, i + len - 1)
      i = i + len
    else
      out[#out + 1] = "\239\191\189"
      i = i + 1
    end
  end
  return concat(out)
end

local ESCAPES = {['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t"}
local function json_string(s)
  local escaped = gsub(utf8_clean(s), '[%z\1-\31"\\\127]', function(c)
    return ESCAPES[c] or format("\\u%04x", byte(c))
  end)
  return '"' .. escaped .. '"'
end

local function utf8_char(cp)
  if cp < 0x80 then
    return string.char(cp)
  elseif cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  elseif cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(
    0xF0 + math.floor(cp / 0x40000),
    0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40,
    0x80 + cp % 0x40
  )
end

local UNESCAPE = {['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t"}

-- The text of a key: the body of a JSON string, its escapes decoded; nil when an escape is
-- invalid. A lone surrogate becomes U+FFFD.
local function decoded_key(raw)
  local out, i = {}, 1
  while true do
    local k = find(raw, "\\", i, true)
    if not k then
      out[#out + 1] = sub(raw, i)
      return concat(out)
    end
    out[#out + 1] = sub(raw, i, k - 1)
    local e = sub(raw, k + 1, k + 1)
    if e == "u" then
      if not find(raw, "^%x%x%x%x", k + 2) then
        return nil
      end
      local cp = tonumber(sub(raw, k + 2, k + 5), 16)
      i = k + 6
      if cp >= 0xD800 and cp <= 0xDBFF and find(raw, "^\\u[dD][c-fC-F]%x%x", i) then
        cp = 0x10000 + (cp - 0xD800) * 0x400 + (tonumber(sub(raw, i + 2, i + 5), 16) - 0xDC00)
        i = i + 6
      elseif cp >= 0xD800 and cp <= 0xDFFF then
        cp = 0xFFFD
      end
      out[#out + 1] = utf8_char(cp)
    elseif UNESCAPE[e] then
      out[#out + 1] = UNESCAPE[e]
      i = k + 2
    else
      return nil
    end
  end
end

-- Index just past the string that opens at i (memchr-fast: escapes and control characters
-- in values are the transcoder's to judge); nil when it is not closed.
local function scan_string(s, i)
  local j = i + 1
  while true do
    local k = find(s, '"', j, true)
    if not k then
      return nil
    end
    local b = k - 1
    while byte(s, b) == 92 do
      b = b - 1
    end
    if (k - 1 - b) % 2 == 0 then -- not escaped: an even run of backslashes before it
      return k + 1
    end
    j = k + 1
  end
end

-- Index just past the object or array that opens at i, found by counting brackets outside
-- strings. For values any JSON may fill (Struct, Value, unknown fields): the transcoder
-- parses them. next_at caches, per bracket and quote byte, where it next occurs, so the whole
-- skip costs a few memchr passes over the text, however many values it holds.
local SKIPPED = {34, 91, 93, 123, 125} -- " [ ] { }
local function skip_free(s, i)
  local next_at, depth = {}, 0
  for _, c in ipairs(SKIPPED) do
    next_at[c] = -1
  end
  while true do
    local k, c = nil, nil
    for _, b in ipairs(SKIPPED) do
      local at = next_at[b]
      if at ~= false and at < i then
        at = find(s, string.char(b), i, true) or false
        next_at[b] = at
      end
      if at and (k == nil or at < k) then
        k, c = at, b
      end
    end
    if k == nil then
      return nil
    end
    if c == 34 then
      i = scan_string(s, k)
      if i == nil then
        return nil
      end
    else
      depth = depth + ((c == 91 or c == 123) and 1 or -1)
      i = k + 1
      if depth == 0 then
        return i
      end
    end
  end
end

local function scan_number(s, i)
  local _, e = find(s, "^-?0", i)
  if not e then
    _, e = find(s, "^-?[1-9]%d*", i)
    if not e then
      return nil
    end
  end
  local _, f = find(s, "^%.%d+", e + 1)
  if f then
    e = f
  end
  _, f = find(s, "^[eE][-+]?%d+", e + 1)
  if f then
    e = f
  end
  return e + 1
end

local function skip_ws(s, i)
  local _, e = find(s, "^[ \t\r\n]*", i)
  return e + 1
end

local function shortened(text)
  if #text > MAX_PATH_TOKEN then
    return sub(text, 1, MAX_PATH_TOKEN) .. "..."
  end
  return text
end

-- Levenshtein distance, for "did you mean" (short strings only).
local function distance(a, b)
  local prev = {}
  for j = 0, #b do
    prev[j] = j
  end
  for i = 1, #a do
    local cur = {[0] = i}
    local ca = byte(a, i)
    for j = 1, #b do
      local cost = (ca == byte(b, j)) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function suggestion(message, key)
  if #key > MAX_PATH_TOKEN then
    return ""
  end
  local lowered, best, best_d = string.lower(key), nil, 3
  for _, name in ipairs(message.names) do
    local d = distance(lowered, name)
    if d < best_d then
      best, best_d = name, d
    end
  end
  return best and format(' (did you mean "%s"?)', best) or ""
end

-- ---------------------------------------------------------------- the Status reply

local REASONS = {unknown_field = "UNKNOWN_FIELD", invalid_type = "INVALID_FIELD_TYPE"}

local function status_json(http, code, reason, message, violations)
  local details = {
    format(
      '{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"%s","domain":"temporal-registry","metadata":{}}',
      reason
    ),
  }
  if violations and #violations > 0 then
    local items = {}
    for i, v in ipairs(violations) do
      items[i] = format(
        '{"field":%s,"description":%s,"reason":"%s"}',
        json_string(v[1]),
        json_string(v[2]),
        v[3]
      )
    end
    details[2] = '{"@type":"type.googleapis.com/google.rpc.BadRequest","field_violations":['
      .. concat(items, ",")
      .. "]}"
  end
  return http, format('{"code":%d,"message":%s,"details":[%s]}', code, json_string(message), concat(details, ","))
end

local function violations_reply(violations)
  local first = violations[1]
  local more = #violations > 1 and format(" (and %d more)", #violations - 1) or ""
  local message = first[1] == "" and first[2] or first[1] .. ": " .. first[2]
  return status_json(400, 3, REASONS[first[3]], message .. more, violations)
end

local function syntax_reply(what, at)
  return status_json(
    400,
    3,
    "INVALID_JSON",
    format("the request body is not valid JSON: %s (at byte %d)", what, at - 1)
  )
end

-- ---------------------------------------------------------------- the check

-- nil when route's body (the whole request body, as text) passes; else the HTTP status and
-- the google.rpc.Status JSON to answer. One pass, no recursion: an explicit stack of the open
-- objects and arrays.
local function check_body(route, s)
  local n = #s
  local violations = {}
  -- per open container: is it an object, its mode, its data (a message, or the spec of its
  -- values), its path segment, and (arrays) the index of the current element
  local objects, modes, datas, segs, counts = {}, {}, {}, {}, {}
  local depth = 0

  local function violation(child, description, reason)
    local parts = {route.prefix}
    for d = 1, depth do
      parts[#parts + 1] = segs[d]
    end
    parts[#parts + 1] = child
    local text = concat(parts)
    if byte(text, 1) == 46 then
      text = sub(text, 2)
    end
    violations[#violations + 1] = {text, description, reason}
    return #violations >= MAX_VIOLATIONS
  end

  local i = skip_ws(s, 1)
  if i > n then
    return nil -- only whitespace: the transcoder answers it
  end
  -- the value to read next: its spec, its path segment, whether it is an array element
  local spec, seg, in_list = route.root, "", false

  while true do
    local c = byte(s, i)
    if c == nil then
      return syntax_reply("a value is missing", i)
    end
    local jtype
    if c == 123 then
      jtype = OBJECT
    elseif c == 91 then
      jtype = ARRAY
    elseif c == 34 then
      jtype = STRING
    elseif c == 45 or (c >= 48 and c <= 57) then
      jtype = NUMBER
    elseif c == 116 or c == 102 then
      jtype = BOOL
    elseif c == 110 then
      jtype = NULL
    else
      return syntax_reply("a value was expected", i)
    end

    local kind = spec.k
    if depth == 0 and jtype ~= OBJECT and (kind == "message" or kind == "none") then
      if violation("", "the request body must be a JSON object", "invalid_type") then
        return violations_reply(violations)
      end
      spec, kind = ANY, "value"
    elseif not ACCEPTS[kind][jtype] then
      local description = EXPECTED[kind]
      if jtype == NULL then
        description = "must not be null"
      elseif depth == 0 then
        description = "the request body " .. description
      end
      if violation(seg, description, "invalid_type") then
        return violations_reply(violations)
      end
      spec, kind = ANY, "value"
    elseif jtype == NULL and in_list and kind ~= "value" then
      if violation(seg, "must not be null in an array", "invalid_type") then
        return violations_reply(violations)
      end
    end

    local complete = true -- false when an object or array was opened and is not empty
    local want_key = false
    if (jtype == OBJECT or jtype == ARRAY) and FREE_FORM[kind] then
      local e = skip_free(s, i)
      if not e then
        return syntax_reply("an object or array is not closed", i)
      end
      i = e
    elseif jtype == OBJECT or jtype == ARRAY then
      if depth >= MAX_DEPTH then
        return syntax_reply(format("values are nested deeper than %d levels", MAX_DEPTH), i)
      end
      depth = depth + 1
      objects[depth], segs[depth], counts[depth] = jtype == OBJECT, seg, 0
      if jtype == OBJECT then
        if kind == "message" or kind == "wkt" then
          modes[depth], datas[depth] = MESSAGE, MESSAGES[spec.t]
        elseif kind == "map" then
          modes[depth], datas[depth] = MAP, spec.v
        else
          modes[depth], datas[depth] = NOBODY, route
        end
      else
        modes[depth], datas[depth] = LIST, spec.i
      end
      i = skip_ws(s, i + 1)
      local close = byte(s, i)
      if close == (jtype == OBJECT and 125 or 93) then
        depth = depth - 1
        i = i + 1
      else
        complete = false
        if jtype == OBJECT then
          want_key = true
        else
          spec, in_list, seg = datas[depth], true, "[0]"
        end
      end
    elseif jtype == STRING then
      local e = scan_string(s, i)
      if not e then
        return syntax_reply("a string is not closed", i)
      end
      i = e
    elseif jtype == NUMBER then
      local e = scan_number(s, i)
      if not e then
        return syntax_reply("invalid number", i)
      end
      i = e
    else
      local word = c == 116 and "true" or c == 102 and "false" or "null"
      if sub(s, i, i + #word - 1) ~= word then
        return syntax_reply("a value was expected", i)
      end
      i = i + #word
    end

    -- after a complete value: close the containers it completes, up to a ',' (then the
    -- next member or element) or the end of the body
    while complete do
      i = skip_ws(s, i)
      if depth == 0 then
        if i <= n then
          return syntax_reply("unexpected text after the JSON value", i)
        end
        if #violations > 0 then
          return violations_reply(violations)
        end
        return nil
      end
      local d, is_object = byte(s, i), objects[depth]
      if d == 44 then
        i = skip_ws(s, i + 1)
        complete = false
        if is_object then
          want_key = true
        else
          local index = counts[depth] + 1
          counts[depth] = index
          spec, in_list, seg = datas[depth], true, format("[%d]", index)
        end
      elseif d == (is_object and 125 or 93) then
        depth = depth - 1
        i = i + 1
      else
        return syntax_reply(is_object and "',' or '}' was expected" or "',' or ']' was expected", i)
      end
    end

    if want_key then
      -- a member of the object at depth: "key" : value
      if byte(s, i) ~= 34 then
        return syntax_reply("a quoted key was expected", i)
      end
      local e = scan_string(s, i)
      if not e then
        return syntax_reply("a string is not closed", i)
      end
      local key = sub(s, i + 1, e - 2)
      if find(key, "\\", 1, true) then
        key = decoded_key(key)
        if key == nil then
          return syntax_reply("invalid escape in a key", i)
        end
      end
      i = skip_ws(s, e)
      if byte(s, i) ~= 58 then
        return syntax_reply("':' was expected after a key", i)
      end
      i = skip_ws(s, i + 1)
      local mode, data = modes[depth], datas[depth]
      in_list = false
      if mode == MESSAGE then
        local field = data.by_key[key]
        if field then
          spec, seg = field, "." .. field.n
        else
          seg = "." .. shortened(key)
          if violation(seg, "unknown field: not in " .. data.name .. suggestion(data, key), "unknown_field") then
            return violations_reply(violations)
          end
          spec = ANY
        end
      elseif mode == MAP then
        spec, seg = data, "[" .. json_string(shortened(key)) .. "]"
      else
        seg = "." .. shortened(key)
        local description = format("not accepted: %s %s takes no request body", data.method, data.template)
        if violation(seg, description, "unknown_field") then
          return violations_reply(violations)
        end
        spec = ANY
      end
    end
  end
end

-- ---------------------------------------------------------------- Envoy's entry point

function envoy_on_request(handle)
  local headers = handle:headers()
  local route = find_route(headers:get(":method") or "", headers:get(":path") or "")
  if route == nil then
    return -- no google.api.http rule: the transcoder answers 404
  end
  local body = handle:body() -- the whole body: the buffer filter came first
  local length = body and body:length() or 0
  if length > 0 then
    local status, reply = check_body(route, body:getBytes(0, length))
    if status then
      -- a local reply that local_reply_config passes through as it is (see the template)
      handle:streamInfo():dynamicMetadata():set(NAMESPACE, "status_json", true)
      handle:respond({[":status"] = tostring(status), ["content-type"] = "application/json"}, reply)
      return
    end
  end
  -- Which gRPC method the body passed the check for: gateway.transcoded_rpc, after the
  -- transcoder, refuses the request unless the transcoder chose the same one. Set last, so
  -- an error in this script fails closed too.
  handle:streamInfo():dynamicMetadata():set(NAMESPACE, "checked_rpc", route.rpc)
end

return {find_route = find_route, check_body = check_body, json_string = json_string}
