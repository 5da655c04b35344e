import java.sql.*;

/** What a JDBC tool (DBeaver, DataGrip) sends through the proxy: everything by Parse/Bind/Execute. */
public class ProxyJdbc {
    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0], args[1], args[2])) {
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT 40 + 2")) {
                r.next();
                System.out.println("sum " + r.getInt(1));
            }
            for (int i = 0; i < 6; i++) {  // past prepareThreshold: a named server-side statement
                try (PreparedStatement p = c.prepareStatement("SELECT name FROM customers WHERE revenue > ? ORDER BY id")) {
                    p.setInt(1, 150);
                    StringBuilder names = new StringBuilder();
                    try (ResultSet r = p.executeQuery()) {
                        while (r.next()) names.append(r.getString(1)).append(' ');
                    }
                    if (i == 5) System.out.println("rows " + names.toString().trim());
                }
            }
            try (PreparedStatement p = c.prepareStatement("SELECT nl2sql('top 2 customers by revenue')"); ResultSet r = p.executeQuery()) {
                r.next();
                System.out.println("proven " + r.getBoolean("proven") + " tables " + r.getString("tables"));
            }
            try (PreparedStatement p = c.prepareStatement("SELECT nl2sql_run()"); ResultSet r = p.executeQuery()) {
                ResultSetMetaData m = r.getMetaData();
                StringBuilder rows = new StringBuilder(m.getColumnName(1) + "," + m.getColumnName(2) + ":");
                while (r.next()) rows.append(' ').append(r.getString(1)).append('=').append(r.getString(2));
                System.out.println("ran " + rows);
            }
            try (PreparedStatement p = c.prepareStatement("SELECT nl2sql_run()"); ResultSet r = p.executeQuery()) {
                System.out.println("ran again");
            } catch (SQLException e) {
                System.out.println("again " + e.getSQLState());
            }
            // In a transaction with a fetch size, pgjdbc asks for one row per Execute of a named portal.
            c.setAutoCommit(false);
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT nl2sql('top 2 customers by revenue')")) {
                r.next();
            }
            try (PreparedStatement p = c.prepareStatement("SELECT nl2sql_run()")) {
                p.setFetchSize(1);
                StringBuilder rows = new StringBuilder();
                try (ResultSet r = p.executeQuery()) {
                    while (r.next()) rows.append(' ').append(r.getString(1));
                }
                System.out.println("fetched" + rows);
            }
            c.commit();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT count(*) FROM customers")) {
                r.next();
                System.out.println("count " + r.getInt(1));
            }
        }
    }
}
