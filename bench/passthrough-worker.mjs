// The baseline Worker: fetches the same path (and method) from the UPSTREAM var and returns the response untouched.
export default {
  fetch: (request, env) =>
    fetch(env.UPSTREAM + new URL(request.url).pathname, { method: request.method }),
};
