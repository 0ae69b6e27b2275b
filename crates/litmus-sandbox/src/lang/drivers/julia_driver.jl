# litmus Julia driver (protocol: src/lang/driver.rs).
#
# Parse check with Meta.parseall; the solution is included into a fresh
# module (with `using Test`), then every snippet is included into the same
# module inside try/catch. Julia cannot interrupt a running task reliably,
# so there is no per-snippet timeout here: a hanging snippet is stopped by
# the host's wall-time limit and the host resumes after it.

function jstr(s::AbstractString)
    io = IOBuffer()
    write(io, '"')
    for c in s
        if c == '"'
            write(io, "\\\"")
        elseif c == '\\'
            write(io, "\\\\")
        elseif c == '\n'
            write(io, "\\n")
        elseif c == '\r'
            write(io, "\\r")
        elseif c == '\t'
            write(io, "\\t")
        elseif c < ' '
            write(io, "\\u", string(UInt16(c), base=16, pad=4))
        else
            write(io, c)
        end
    end
    write(io, '"')
    String(take!(io))
end
jval(x::Bool) = x ? "true" : "false"
jval(x::Integer) = string(x)
jval(::Nothing) = "null"
jval(x::AbstractString) = jstr(x)

function errtext(e, bt)
    s = sprint(showerror, e)
    length(s) > 4000 ? first(s, 4000) * "…" : s
end

function parse_error(ex)
    if ex isa Expr
        if ex.head in (:error, :incomplete)
            return sprint(show, ex)
        end
        for a in ex.args
            r = parse_error(a)
            r === nothing || return r
        end
    end
    return nothing
end

function main()
    lines = split(read(stdin, String), '\n')
    nonce = strip(lines[1])
    parts = split(strip(lines[2]))
    mode, start_kind = parts[1], parts[2]
    start_index = parse(Int, parts[3])
    phase_s = parse(Float64, parts[4])
    n_ex = parse(Int, parts[6])
    n_tests = parse(Int, parts[7])
    rep = fdio(3)
    emit(kv...) = begin
        body = join(["\"$(k)\":$(jval(v))" for (k, v) in kv], ",")
        write(rep, "{\"nonce\":$(jstr(nonce)),$(body)}\n")
        flush(rep)
    end

    setup = read("setup.jl", String)
    src = read("solution.jl", String)
    perr = try
        parse_error(Meta.parseall(src; filename="solution.jl"))
    catch e
        errtext(e, nothing)
    end
    if perr !== nothing
        emit("event" => "parsed", "ok" => false, "error" => perr)
        emit("event" => "done")
        return
    end
    emit("event" => "parsed", "ok" => true)
    if mode == "check"
        emit("event" => "done")
        return
    end
    sol = Module(:Solution)
    Core.eval(sol, :(using Test))
    try
        include_string(sol, setup, "setup.jl")
    catch e
        emit("event" => "infra", "error" => "the spec's setup code failed: " * errtext(e, nothing))
        emit("event" => "done")
        return
    end
    t0 = time()
    loaded = try
        include_string(sol, src, "solution.jl")
        nothing
    catch e
        errtext(e, catch_backtrace())
    end
    if start_kind == "load"
        emit("event" => "executed", "ok" => loaded === nothing, "error" => loaded,
             "timed_out" => false, "ms" => round(Int, (time() - t0) * 1000))
    end
    if loaded !== nothing
        emit("event" => "done")
        return
    end
    order = Dict("load" => 0, "example" => 1, "test" => 2)
    for (kind, n, folder) in (("example", n_ex, "examples"), ("test", n_tests, "tests"))
        order[kind] < order[start_kind] && continue
        first_i = kind == start_kind ? start_index : 0
        deadline = time() + phase_s
        for i in first_i:(n - 1)
            if time() >= deadline
                emit("event" => "result", "kind" => kind, "index" => i, "ok" => false,
                     "timed_out" => true, "ms" => 0, "error" => "the $(kind) phase used up its budget")
                continue
            end
            snippet = read("$(folder)/$(i).jl", String)
            emit("event" => "begin", "kind" => kind, "index" => i)
            t = time()
            err = try
                include_string(sol, snippet, "<$(kind) $(i)>")
                nothing
            catch e
                errtext(e, catch_backtrace())
            end
            emit("event" => "result", "kind" => kind, "index" => i, "ok" => err === nothing,
                 "error" => err, "timed_out" => false, "ms" => round(Int, (time() - t) * 1000))
        end
    end
    emit("event" => "done")
end

main()
exit(0)
