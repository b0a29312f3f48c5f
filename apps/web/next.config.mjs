/** Next.js config: a standalone server (node server.js) so the runtime image needs no node_modules. */
const nextConfig = {
  output: "standalone",
  poweredByHeader: false,
};

export default nextConfig;
