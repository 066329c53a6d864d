package tifa.esnode;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Starts one real Elasticsearch node in this JVM, built only from Maven Central artifacts
 * ({@code org.elasticsearch:elasticsearch} + {@code org.elasticsearch.plugin:transport-netty4}).
 * Test use only: no security, HTTP and transport bound to 127.0.0.1.
 *
 * <pre>
 * java -Xms512m -Xmx512m -cp "target/es8/classes:target/es8/lib/*" tifa.esnode.Main \
 *   --http-port 9200 --transport-port 9300 --data /tmp/es1 --cluster-name tifa-test --node-name n1 \
 *   [--seed-hosts 127.0.0.1:9301,...] [--initial-master-nodes n1,n2] [--roles master,data,ingest] \
 *   [--setting key=value]...
 * </pre>
 *
 * Without {@code --seed-hosts} the node runs with {@code discovery.type=single-node}.
 * Prints {@code ESNODE STARTED ...} on stdout once the node has started; SIGTERM closes it.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) throws Exception {
        // Same defaults as Elasticsearch's own jvm.options; must be set before log4j/netty load.
        setDefault("log4j.shutdownHookEnabled", "false");
        setDefault("log4j2.disable.jmx", "true");
        setDefault("log4j2.formatMsgNoLookups", "true");
        setDefault("io.netty.noUnsafe", "true");
        setDefault("io.netty.noKeySetOptimization", "true");
        setDefault("io.netty.recycler.maxCapacityPerThread", "0");
        setDefault("io.netty.allocator.numDirectArenas", "0");
        setDefault("es.set.netty.runtime.available.processors", "false");
        setDefault("file.encoding", "UTF-8");

        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("esnode: " + e.getMessage());
            System.err.println(Options.USAGE);
            System.exit(2);
            return;
        }
        long startNanos = System.nanoTime();
        Launcher.run(options, startNanos, System.out);
    }

    private static void setDefault(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** Parsed command line. */
    static final class Options {
        static final String USAGE = "usage: tifa.esnode.Main --http-port P --transport-port T --data DIR"
            + " --cluster-name NAME --node-name N [--seed-hosts host:port,...] [--initial-master-nodes n1,n2]"
            + " [--roles r1,r2] [--setting key=value]...";

        int httpPort = -1;
        int transportPort = -1;
        Path dir;
        String clusterName = "tifa-test";
        String nodeName = "node-0";
        List<String> seedHosts = List.of();
        List<String> initialMasterNodes = List.of();
        List<String> roles;
        final Map<String, String> extra = new LinkedHashMap<>();

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String flag = args[i];
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("missing value for " + flag);
                }
                String value = args[++i];
                switch (flag) {
                    case "--http-port" -> o.httpPort = Integer.parseInt(value);
                    case "--transport-port" -> o.transportPort = Integer.parseInt(value);
                    case "--data" -> o.dir = Path.of(value).toAbsolutePath().normalize();
                    case "--cluster-name" -> o.clusterName = value;
                    case "--node-name" -> o.nodeName = value;
                    case "--seed-hosts" -> o.seedHosts = split(value);
                    case "--initial-master-nodes" -> o.initialMasterNodes = split(value);
                    case "--roles" -> o.roles = split(value);
                    case "--setting" -> {
                        int eq = value.indexOf('=');
                        if (eq <= 0) {
                            throw new IllegalArgumentException("--setting needs key=value, got " + value);
                        }
                        o.extra.put(value.substring(0, eq), value.substring(eq + 1));
                    }
                    default -> throw new IllegalArgumentException("unknown option " + flag);
                }
            }
            if (o.httpPort <= 0 || o.transportPort <= 0 || o.dir == null) {
                throw new IllegalArgumentException("--http-port, --transport-port and --data are required");
            }
            return o;
        }

        private static List<String> split(String csv) {
            return java.util.Arrays.stream(csv.split(",")).map(String::trim).filter(s -> s.isEmpty() == false).toList();
        }
    }

    /** Kept separate so that no Elasticsearch class loads before the system properties above are set. */
    static final class Launcher {
        private static final String LOG4J2_PROPERTIES = String.join("\n",
            "status = error",
            "appender.console.type = Console",
            "appender.console.name = console",
            "appender.console.layout.type = PatternLayout",
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n",
            "rootLogger.level = info",
            "rootLogger.appenderRef.console.ref = console",
            "logger.deprecation.name = org.elasticsearch.deprecation",
            "logger.deprecation.level = error",
            "");

        private Launcher() {
        }

        static void run(Options o, long startNanos, PrintStream out) throws IOException, InterruptedException {
            Path home = o.dir.resolve("home");
            Path data = o.dir.resolve("data");
            Path logs = o.dir.resolve("logs");
            Files.createDirectories(home.resolve("config"));
            Files.createDirectories(data);
            Files.createDirectories(logs);

            org.elasticsearch.common.settings.Settings.Builder b = org.elasticsearch.common.settings.Settings.builder()
                .put("path.home", home.toString())
                .put("path.data", data.toString())
                .put("path.logs", logs.toString())
                .put("cluster.name", o.clusterName)
                .put("node.name", o.nodeName)
                .put("network.host", "127.0.0.1")
                .put("http.port", Integer.toString(o.httpPort))
                .put("transport.port", Integer.toString(o.transportPort))
                // test machines are often nearly full: never block allocation or writes on disk usage
                .put("cluster.routing.allocation.disk.threshold_enabled", "false")
                // small footprint on a 2-core machine
                .put("node.processors", Integer.toString(Math.min(2, Runtime.getRuntime().availableProcessors())))
                .put("indices.breaker.total.use_real_memory", "false")
                .put("action.destructive_requires_name", "false");
            if (o.seedHosts.isEmpty()) {
                b.put("discovery.type", "single-node");
            } else {
                b.putList("discovery.seed_hosts", o.seedHosts);
                if (o.initialMasterNodes.isEmpty() == false) {
                    b.putList("cluster.initial_master_nodes", o.initialMasterNodes);
                }
            }
            if (o.roles != null) {
                b.putList("node.roles", o.roles);
            }
            o.extra.forEach(b::put);
            org.elasticsearch.common.settings.Settings settings = b.build();

            // Console-only logging (the caller redirects stdout to a file); same layout as Elasticsearch's.
            Files.writeString(home.resolve("config").resolve("log4j2.properties"), LOG4J2_PROPERTIES);
            org.elasticsearch.env.Environment env = new org.elasticsearch.env.Environment(settings, null);
            org.elasticsearch.common.logging.LogConfigurator.registerErrorListener();
            org.elasticsearch.common.logging.LogConfigurator.setNodeName(o.nodeName);
            org.elasticsearch.common.logging.LogConfigurator.setClusterName(o.clusterName);
            org.elasticsearch.common.logging.LogConfigurator.configure(env, true);

            org.elasticsearch.node.Node node = new org.elasticsearch.node.ClasspathNode(
                env,
                List.of(
                    org.elasticsearch.transport.netty4.Netty4Plugin.class, // HTTP + transport
                    RootInfoPlugin.class                                   // GET / and HEAD /
                )
            );

            java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    node.prepareForClose();
                    node.close();
                    node.awaitClose(15, java.util.concurrent.TimeUnit.SECONDS);
                } catch (Exception e) {
                    e.printStackTrace();
                } finally {
                    closed.countDown();
                }
            }, "esnode-shutdown"));

            try {
                node.start();
            } catch (Exception e) {
                e.printStackTrace();
                System.exit(1);
            }
            long ms = (System.nanoTime() - startNanos) / 1_000_000;
            out.printf("ESNODE STARTED version=%s http=http://127.0.0.1:%d transport=127.0.0.1:%d cluster=%s node=%s"
                    + " dir=%s pid=%d elapsed_ms=%d%n",
                org.elasticsearch.Build.current().version(), o.httpPort, o.transportPort, o.clusterName, o.nodeName,
                o.dir, ProcessHandle.current().pid(), ms);
            out.flush();
            // Elasticsearch threads are daemons: keep the JVM alive until the shutdown hook has closed the node.
            closed.await();
        }
    }
}
