// The baseline Worker: fetches the same path and query (method and headers too) from the UPSTREAM var and returns the response untouched.
export default {
  /**
   * @param {Request} request
   * @param {{ UPSTREAM: string }} env
   */
  fetch(request, env) {
    const { pathname, search } = new URL(request.url);
    return fetch(env.UPSTREAM + pathname + search, {
      method: request.method,
      headers: request.headers,
    });
  },
};
